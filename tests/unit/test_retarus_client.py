"""The Retarus client against the simulator: error classes (§3), retries, timeouts, redaction."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from urllib.parse import quote, quote_plus

import pytest

from local.simulator import RetarusSimulator
from sms_pipeline.ports import ConfigurationFault, Rejected, TransientError, UnexpectedResponse, UnknownResult
from sms_pipeline.request import SmsRequest
from sms_pipeline.retarus.client import RetarusClient, RetryPolicy, redact
from sms_pipeline.retarus.credentials import Credentials

PASSWORD = "p@ss word&x=1?é"
SMS = SmsRequest(id="r1", to="+4917012345678", text="hi")


@pytest.fixture
def sim() -> Iterator[RetarusSimulator]:
    with RetarusSimulator(user="u", password=PASSWORD) as simulator:
        yield simulator


def client(base_url: str, password: str = PASSWORD, **kwargs: object) -> RetarusClient:
    sleeps: list[float] = []
    made = RetarusClient(
        base_url,
        lambda: Credentials("u", password),
        connect_timeout=0.5,
        read_timeout=0.5,
        sleep=sleeps.append,
        **kwargs,  # type: ignore[arg-type]
    )
    made.sleeps = sleeps  # type: ignore[attr-defined]
    return made


def closed_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/httpsimple/v1"


def assert_clean(text: str) -> None:
    for form in (PASSWORD, quote(PASSWORD, safe=""), quote_plus(PASSWORD)):
        assert form not in text


def test_send_and_report(sim: RetarusSimulator) -> None:
    retarus = client(sim.base_url)
    job = retarus.send(SMS)
    assert job in sim.jobs
    assert retarus.status(job).process_status == "OPEN"


def test_job_ids_are_url_encoded(sim: RetarusSimulator) -> None:
    odd = RetarusSimulator(user="u", password=PASSWORD, odd_job_ids=1).start()
    try:
        retarus = client(odd.base_url)
        job = retarus.send(SMS)
        assert job[-1] == "@"
        assert retarus.status(job).process_status == "OPEN"
    finally:
        odd.stop()


def test_400_is_rejected(sim: RetarusSimulator) -> None:
    with pytest.raises(Rejected):
        client(sim.base_url).send(SmsRequest(id="r", to="+4917012345640", text="x"))


def test_401_is_a_configuration_fault_that_says_what_to_fix(sim: RetarusSimulator) -> None:
    with pytest.raises(ConfigurationFault, match="fix the user/password in the Retarus secret"):
        client(sim.base_url, password="wrong").send(SMS)


def test_wrong_base_url_is_a_configuration_fault(sim: RetarusSimulator) -> None:
    with pytest.raises(ConfigurationFault, match="RetarusBaseUrl"):
        client(sim.base_url + "/nope").send(SMS)


def test_5xx_is_retried_with_jittered_backoff_then_raised(sim: RetarusSimulator) -> None:
    retarus = client(sim.base_url, retry=RetryPolicy(attempts=3, base_delay=0.1, max_delay=1.0))
    sim.inject("500", count=3, path="/sms")
    with pytest.raises(TransientError):
        retarus.send(SMS)
    assert len(sim.sms_posts()) == 3
    assert len(retarus.sleeps) == 2  # type: ignore[attr-defined]
    assert all(0 <= wait <= 1.0 for wait in retarus.sleeps)  # type: ignore[attr-defined]


def test_429_and_503_are_retried(sim: RetarusSimulator) -> None:
    retarus = client(sim.base_url)
    sim.inject("429", count=1, path="/sms")
    sim.inject("503", count=1, path="/sms")
    assert retarus.send(SMS) in sim.jobs
    assert len(sim.sms_posts()) == 3


def test_no_retry_past_the_deadline(sim: RetarusSimulator) -> None:
    import time

    retarus = client(sim.base_url)
    sim.inject("500", count=5, path="/sms")
    with pytest.raises(TransientError):
        retarus.send(SMS, deadline=time.monotonic() + 0.1)
    assert len(sim.sms_posts()) == 1


def test_no_answer_to_a_post_is_an_unknown_result_and_not_repeated(sim: RetarusSimulator) -> None:
    sim.inject("hang", count=1, path="/sms")
    with pytest.raises(UnknownResult):
        client(sim.base_url).send(SMS)
    assert len(sim.sms_posts()) == 1


def test_reset_after_a_post_was_written_is_an_unknown_result(sim: RetarusSimulator) -> None:
    sim.inject("reset", count=1, path="/sms")
    with pytest.raises(UnknownResult) as unknown:
        client(sim.base_url).send(SMS)
    assert len(sim.sms_posts()) == 1
    assert unknown.value.accepted is False  # may or may not have been accepted


def test_a_201_without_a_readable_job_id_is_an_unknown_result_the_provider_accepted(sim: RetarusSimulator) -> None:
    sim.inject("garbled", count=1, path="/sms")
    with pytest.raises(UnknownResult) as unknown:
        client(sim.base_url).send(SMS)
    assert unknown.value.accepted is True  # certainly sent: never to be sent again
    assert len(sim.sms_posts()) == 1 and len(sim.jobs) == 1


def test_report_is_idempotent_so_resets_and_timeouts_are_retried(sim: RetarusSimulator) -> None:
    retarus = client(sim.base_url)
    job = retarus.send(SMS)
    sim.inject("reset", count=1, path="/reports")
    sim.inject("hang", count=1, path="/reports")
    assert retarus.status(job).process_status == "OPEN"


def test_unparseable_report_is_unexpected(sim: RetarusSimulator) -> None:
    retarus = client(sim.base_url)
    job = retarus.send(SmsRequest(id="r", to="+4917012345626", text="x"))
    with pytest.raises(UnexpectedResponse, match="unexpected report body"):
        retarus.report(job)


def test_connection_refused_is_transient_and_redacted() -> None:
    retarus = client(closed_url())
    with pytest.raises(TransientError) as sent:
        retarus.send(SMS)
    with pytest.raises(TransientError) as reported:
        retarus.report("J.1")  # GET: the password is in the query string requests puts in its errors
    for raised in (sent, reported):
        text = str(raised.value)
        assert "Connection refused" in text
        assert_clean(text)
        assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_proxy_settings_are_read_from_the_environment_once_when_the_client_is_made(
    sim: RetarusSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    proxy = closed_url().removesuffix("/httpsimple/v1")  # a proxy that refuses every connection

    monkeypatch.setenv("HTTP_PROXY", proxy)
    proxied = client(sim.base_url)
    monkeypatch.delenv("HTTP_PROXY")
    with pytest.raises(TransientError) as raised:
        proxied.report("J.1")  # through the proxy, although the variable is gone by now
    assert_clean(str(raised.value))

    direct = client(sim.base_url)
    monkeypatch.setenv("HTTP_PROXY", proxy)
    job = direct.send(SMS)  # not through the proxy: the environment is not read again per call
    assert direct.status(job).process_status == "OPEN"


def test_redact_removes_every_encoding_of_a_secret() -> None:
    text = f"a {PASSWORD} b {quote(PASSWORD, safe='')} c {quote_plus(PASSWORD)}"
    assert_clean(redact(text, (PASSWORD,)))


def test_credentials_repr_hides_the_password() -> None:
    assert PASSWORD not in repr(Credentials("u", PASSWORD))
