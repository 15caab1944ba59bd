"""The Retarus simulator (local/simulator.py), driven over real HTTP with `requests`. No test sleeps:
job status moves with the number of polls, and timing is only measured, never waited for."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
import requests

from local.simulator import ODD_SUFFIXES, RetarusSimulator, lifecycle
from sms_pipeline.retarus import bodies as retarus_bodies
from support import SIMULATOR_FINALS

USER, PASSWORD = "sim-user", "s3cr3t&pass=word?"
AUTH = {"user": USER, "pass": PASSWORD}
PLAIN = "+4917012345678"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def sim() -> Iterator[RetarusSimulator]:
    with RetarusSimulator(USER, PASSWORD, body_form="json") as simulator:
        yield simulator


@pytest.fixture
def client() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def send(client: requests.Session, sim: RetarusSimulator, timeout: float = 5.0, /, **params: str) -> requests.Response:
    return client.post(f"{sim.base_url}/sms", data={**AUTH, "msg": "hello", **params}, timeout=timeout)


def poll(client: requests.Session, sim: RetarusSimulator, job_id: str, timeout: float = 5.0) -> requests.Response:
    return client.get(f"{sim.base_url}/reports", params={**AUTH, "jobid": job_id}, timeout=timeout)


def new_job(client: requests.Session, sim: RetarusSimulator, dst: str = PLAIN, **params: str) -> str:
    response = send(client, sim, dst=dst, **params)
    assert response.status_code == 201, response.text
    return retarus_bodies.job_id(response.text)


def statuses(client: requests.Session, sim: RetarusSimulator, job_id: str, polls: int) -> list[tuple[str, str]]:
    answers = []
    for _ in range(polls):
        response = poll(client, sim, job_id)
        assert response.status_code == 200
        document = json.loads(response.text)
        answers.append((document["processStatus"], document["status"]))
    return answers


def parsed(body: str) -> tuple[str, str]:
    """A report body as the client's parser reads it."""
    status = retarus_bodies.report(body)
    return status.process_status, status.status


# -- POST /sms ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "content_type"),
    [("text", "text/plain"), ("kv", "text/plain"), ("json", "application/json")],
)
def test_201_carries_the_job_id_in_each_body_form(form: str, content_type: str, client: requests.Session) -> None:
    with RetarusSimulator(USER, PASSWORD, body_form=form) as sim:
        response = send(client, sim, dst=PLAIN)
        [job_id] = sim.jobs
    assert response.status_code == 201
    assert response.headers["Content-Type"].startswith(content_type)
    assert response.headers["Content-Length"] == str(len(response.content))
    expected = {"text": f"{job_id}\n", "kv": f"jobId={job_id}", "json": json.dumps({"jobId": job_id})}
    assert response.text == expected[form]
    assert job_id.startswith("J.") and len(job_id) == len("J.20221116-102407.583-") + 20


def test_rotate_cycles_the_201_forms(client: requests.Session) -> None:
    with RetarusSimulator(USER, PASSWORD) as sim:
        bodies = [send(client, sim, dst=PLAIN).text for _ in range(6)]
        ids = list(sim.jobs)
    assert bodies[0] == f"{ids[0]}\n" and bodies[3] == f"{ids[3]}\n"
    assert bodies[1] == f"jobId={ids[1]}" and bodies[4] == f"jobId={ids[4]}"
    assert json.loads(bodies[2]) == {"jobId": ids[2]} and json.loads(bodies[5]) == {"jobId": ids[5]}
    assert [retarus_bodies.job_id(body) for body in bodies] == ids


def test_form_body_is_recorded_byte_for_byte(sim: RetarusSimulator, client: requests.Session) -> None:
    text = "a&pass=x?#€ 😀"
    assert send(client, sim, dst=PLAIN, msg=text).status_code == 201
    [post] = sim.sms_posts()
    assert post.params["msg"] == text
    assert post.params["pass"] == PASSWORD
    assert post.query == "" and post.method == "POST" and post.path == "/sms" and post.fault is None
    assert post.content_type == "application/x-www-form-urlencoded"
    assert "%F0%9F%98%80" in post.body.decode("ascii")
    assert next(iter(sim.jobs.values())).params["msg"] == text


def test_query_and_form_are_merged_and_the_form_wins(sim: RetarusSimulator, client: requests.Session) -> None:
    response = client.post(
        f"{sim.base_url}/sms",
        params={"user": USER, "pass": "wrong", "msg": "from the query"},
        data={"pass": PASSWORD, "dst": PLAIN},
    )
    assert response.status_code == 201
    [post] = sim.sms_posts()
    assert post.params == {"user": USER, "pass": PASSWORD, "msg": "from the query", "dst": PLAIN}
    assert post.query.startswith("user=")


@pytest.mark.parametrize(
    "params",
    [
        {**AUTH, "pass": "wrong"},
        {**AUTH, "user": "someone"},
        {"user": USER},
        {"pass": PASSWORD},
        {},
    ],
)
def test_bad_credentials_give_401_with_an_empty_body(
    params: dict[str, str], sim: RetarusSimulator, client: requests.Session
) -> None:
    response = client.post(f"{sim.base_url}/sms", data={**params, "dst": PLAIN, "msg": "x"})
    assert response.status_code == 401 and response.content == b""
    report = client.get(f"{sim.base_url}/reports", params={**params, "jobid": "J.x"})
    assert report.status_code == 401
    assert sim.jobs == {}


def test_wrong_method_gives_405_and_unknown_path_404(sim: RetarusSimulator, client: requests.Session) -> None:
    assert client.get(f"{sim.base_url}/sms", params={**AUTH, "dst": PLAIN, "msg": "x"}).status_code == 405
    assert client.post(f"{sim.base_url}/reports", data={**AUTH, "jobid": "x"}).status_code == 405
    assert client.put(f"{sim.base_url}/sms", data=AUTH).status_code == 405
    assert client.head(f"{sim.base_url}/sms").status_code == 405
    assert client.post(f"{sim.base_url}/nope", data=AUTH).status_code == 404
    root = sim.base_url[: -len("/httpsimple/v1")]
    assert client.post(f"{root}/sms", data={**AUTH, "dst": PLAIN, "msg": "x"}).status_code == 404
    assert sim.jobs == {}


@pytest.mark.parametrize(
    "params",
    [
        {"msg": "no dst"},
        {"dst": "+4917012345640"},  # the number the provider refuses
        {"dst": "004917012345640"},
        {"dst": "+49 170 1234567"},  # not stripped by the provider
        {"dst": "12"},
        {"dst": "+" + "1" * 21},
        {"dst": "abc"},
        {"dst": PLAIN + "\n"},
        {"dst": PLAIN, "msg": ""},
        {"dst": PLAIN, "msg": "x" * 1601},
        {"dst": PLAIN, "dn": "yes"},
        {"dst": PLAIN, "qos": "fast"},
        {"dst": PLAIN, "src": "A" * 12},
        {"dst": PLAIN, "src": "+" + "1" * 21},
        {"dst": PLAIN, "src": "Grüße"},
        {"dst": PLAIN, "src": ""},
        {"dst": PLAIN, "bc": "b" * 71},
        {"dst": PLAIN, "ref": "r" * 71},
    ],
)
def test_invalid_parameters_give_400(params: dict[str, str], sim: RetarusSimulator, client: requests.Session) -> None:
    data = {**AUTH, "msg": "hello", **params}
    if "dst" not in params:
        data.pop("dst", None)
    response = client.post(f"{sim.base_url}/sms", data=data)
    assert response.status_code == 400 and response.content == b""
    assert sim.jobs == {}
    assert len(sim.sms_posts()) == 1


@pytest.mark.parametrize(
    "params",
    [
        {"dst": "01701234567"},
        {"dst": "00491701234567"},
        {"dst": "123"},
        {"dst": PLAIN, "msg": "€" * 1600},
        {"dst": PLAIN, "dn": "TRUE", "qos": "Express"},
        {"dst": PLAIN, "src": "ACME Ltd."},
        {"dst": PLAIN, "src": "+491701234567"},
        {"dst": PLAIN, "src": "a!#$%&'()*+,"[:11]},
        {"dst": PLAIN, "bc": "b" * 70, "ref": "r" * 70},
    ],
)
def test_valid_parameters_give_201(params: dict[str, str], sim: RetarusSimulator, client: requests.Session) -> None:
    assert send(client, sim, **params).status_code == 201


def test_invalid_utf8_in_the_form_gives_400(sim: RetarusSimulator, client: requests.Session) -> None:
    body = f"user={USER}&pass={quote(PASSWORD, safe='')}&dst=%2B4917012345678&msg=%FF%FE".encode()
    response = client.post(
        f"{sim.base_url}/sms", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 400
    assert sim.sms_posts()[0].body == body


# -- GET /reports -------------------------------------------------------------------------------------


def test_unknown_or_missing_job_id_gives_400(sim: RetarusSimulator, client: requests.Session) -> None:
    assert poll(client, sim, "J.20221116-102407.583-0lajfsfmoXIZJO93PQ").status_code == 400
    assert client.get(f"{sim.base_url}/reports", params=AUTH).status_code == 400


def test_plain_job_is_open_then_sent(sim: RetarusSimulator, client: requests.Session) -> None:
    job_id = new_job(client, sim)
    assert statuses(client, sim, job_id, 4) == [
        ("OPEN", ""),
        ("DONE", "SUC_ACC"),
        ("DONE", "SUC_ACC"),
        ("DONE", "SUC_ACC"),
    ]
    assert sim.jobs[job_id].polls == 4
    assert len(sim.report_calls(job_id)) == 4


def test_dn_job_is_open_then_running_then_delivered(sim: RetarusSimulator, client: requests.Session) -> None:
    job_id = new_job(client, sim, dn="true")
    assert statuses(client, sim, job_id, 4) == [("OPEN", ""), ("RUNNING", ""), ("DONE", "SUC_FIN"), ("DONE", "SUC_FIN")]


@pytest.mark.parametrize(
    ("polls_to_final", "dn", "expected"),
    [
        (1, False, ["DONE", "DONE"]),
        (1, True, ["RUNNING", "DONE", "DONE"]),
        (3, False, ["OPEN", "OPEN", "DONE"]),
        (3, True, ["OPEN", "OPEN", "RUNNING", "DONE"]),
    ],
)
def test_polls_to_final(polls_to_final: int, dn: bool, expected: list[str], client: requests.Session) -> None:
    with RetarusSimulator(USER, PASSWORD, polls_to_final=polls_to_final, body_form="json") as sim:
        job_id = new_job(client, sim, dn=str(dn).lower())
        assert [process for process, _ in statuses(client, sim, job_id, len(expected))] == expected


def test_polls_to_final_must_be_positive() -> None:
    with pytest.raises(ValueError, match="polls_to_final"):
        RetarusSimulator(polls_to_final=0)


# Every number of the tests' table but 25, whose answer is written sloppily on purpose (tested below).
@pytest.mark.parametrize(
    ("suffix", "final"),
    [(suffix, (process, status)) for suffix, (process, status, _) in SIMULATOR_FINALS.items() if suffix != "25"],
)
def test_magic_suffix_chooses_the_final_status(
    suffix: str, final: tuple[str, str], sim: RetarusSimulator, client: requests.Session
) -> None:
    job_id = new_job(client, sim, dst=f"+491701234{suffix}")
    assert statuses(client, sim, job_id, 3) == [("OPEN", ""), final, final]


@pytest.mark.parametrize(
    ("suffix", "dn", "forever"),
    [("22", "false", ("OPEN", "")), ("23", "false", ("PAUSED", "")), ("24", "true", ("RUNNING", ""))],
)
def test_magic_suffix_that_never_ends(
    suffix: str, dn: str, forever: tuple[str, str], sim: RetarusSimulator, client: requests.Session
) -> None:
    job_id = new_job(client, sim, dst=f"+491701234{suffix}", dn=dn)
    answers = statuses(client, sim, job_id, 6)
    assert answers[-4:] == [forever] * 4
    if suffix == "24":
        assert answers[0] == ("OPEN", "")


def test_sloppy_and_garbled_reports(client: requests.Session) -> None:
    with RetarusSimulator(USER, PASSWORD, body_form="text") as sim:
        sloppy = new_job(client, sim, dst="+4917012345625")
        garbled = new_job(client, sim, dst="+4917012345626")
        assert poll(client, sim, sloppy).text == "OPEN\n"
        body = poll(client, sim, sloppy).text
        assert body == "  done   suc_fin \n"
        assert parsed(body) == ("DONE", "SUC_FIN")
        for _ in range(3):
            response = poll(client, sim, garbled)
            assert response.status_code == 200 and response.text == "<html><body>oops</body></html>"
            assert response.headers["Content-Type"].startswith("text/html")
            with pytest.raises(retarus_bodies.UnexpectedBody):
                retarus_bodies.report(response.text)


def test_every_report_body_form_appears_under_rotate(client: requests.Session) -> None:
    with RetarusSimulator(USER, PASSWORD, seed=3) as sim:
        plain, sloppy = new_job(client, sim), new_job(client, sim, dst="+4917012345625")
        [poll(client, sim, job_id) for job_id in (plain, sloppy)]  # past OPEN
        bodies = [poll(client, sim, plain).text for _ in range(24)]
        sloppy_bodies = [poll(client, sim, sloppy).text for _ in range(8)]
    kinds = set()
    for body in bodies:
        if body.startswith("["):
            kinds.add("jsonarray")
            assert json.loads(body) == [{"processStatus": "DONE", "status": "SUC_ACC"}]
        elif body.startswith("{"):
            kinds.add("json")
            assert json.loads(body) == {"processStatus": "DONE", "status": "SUC_ACC"}
        elif body.startswith("processStatus="):
            kinds.add("kv-lines" if "\n" in body else "kv")
        else:
            kinds.add("text" + repr(body[len("DONE") : -len("SUC_ACC\n")]))
    assert kinds == {
        "jsonarray",
        "json",
        "kv",
        "kv-lines",
        *("text" + repr(separator) for separator in (" ", ";", ",", "|", " ; ", "\t")),
    }
    assert "processStatus=DONE&status=SUC_ACC" in bodies
    assert "processStatus=DONE\nstatus=SUC_ACC\n" in bodies
    # The client's parser reads every form, sloppy ones included.
    assert {parsed(body) for body in bodies} == {("DONE", "SUC_ACC")}
    assert {parsed(body) for body in sloppy_bodies} == {("DONE", "SUC_FIN")}


def test_empty_status_forms_under_rotate(client: requests.Session) -> None:
    with RetarusSimulator(USER, PASSWORD) as sim:
        job_ids = [new_job(client, sim, dst="+4917012345622") for _ in range(8)]
        bodies = [poll(client, sim, job_id).text for job_id in job_ids]
    assert {"OPEN\n", "OPEN;\n", "processStatus=OPEN&status=", "processStatus=OPEN\nstatus=\n"} <= set(bodies)
    assert '{"processStatus": "OPEN", "status": ""}' in bodies
    assert '[{"processStatus": "OPEN", "status": ""}]' in bodies
    assert {parsed(body) for body in bodies} == {("OPEN", "")}


def test_lifecycle_rule_directly() -> None:
    assert [lifecycle("+4917012345678", True, n, 2).process_status for n in (1, 2, 3)] == ["OPEN", "RUNNING", "DONE"]
    assert lifecycle("+4917012345626", False, 1, 2).garbled


# -- job ids that must be URL-encoded --------------------------------------------------------------


def test_every_seventh_job_id_needs_url_encoding(sim: RetarusSimulator, client: requests.Session) -> None:
    ids = [new_job(client, sim) for _ in range(14)]
    odd = [job_id for job_id in ids if not job_id.replace(".", "").replace("-", "").isalnum()]
    assert odd == [ids[6], ids[13]]
    assert ids[6].endswith(ODD_SUFFIXES[0]) and ids[13].endswith(ODD_SUFFIXES[1])


def test_job_ids_with_special_characters_are_found_when_url_encoded(client: requests.Session) -> None:
    with RetarusSimulator(USER, PASSWORD, odd_job_ids=1, body_form="kv") as sim:
        ids = [new_job(client, sim) for _ in range(len(ODD_SUFFIXES))]
        assert [job_id[-len(suffix) :] for job_id, suffix in zip(ids, ODD_SUFFIXES, strict=True)] == list(ODD_SUFFIXES)
        for job_id in ids:
            assert job_id.endswith("@") and not any(c.isspace() for c in job_id)
            # requests URL-encodes params; quote(safe="") is what a careful client does by hand.
            assert poll(client, sim, job_id).status_code == 200
            url = f"{sim.base_url}/reports?jobid={quote(job_id, safe='')}&user={USER}&pass={quote(PASSWORD, safe='')}"
            assert client.get(url).status_code == 200
            unencoded = f"{sim.base_url}/reports?jobid={job_id}&user={USER}&pass={quote(PASSWORD, safe='')}"
            assert client.get(unencoded).status_code in (400, 401)
            assert sim.report_calls(job_id)[0].params["jobid"] == job_id
        assert [sim.jobs[job_id].polls for job_id in ids] == [2, 2, 2]


# -- faults ---------------------------------------------------------------------------------------


def test_injected_500_then_success(sim: RetarusSimulator, client: requests.Session) -> None:
    sim.inject("500", count=2, path="/sms")
    assert send(client, sim, dst=PLAIN).status_code == 500
    assert send(client, sim, dst=PLAIN).status_code == 500
    assert send(client, sim, dst=PLAIN).status_code == 201
    assert [post.fault for post in sim.sms_posts()] == ["500", "500", None]
    assert len(sim.jobs) == 1  # a faulted request is not processed
    assert sim.faults_injected["500"] == 2


def test_injection_matches_its_path_only(sim: RetarusSimulator, client: requests.Session) -> None:
    job_id = new_job(client, sim)
    sim.inject("503", path="/reports")
    assert send(client, sim, dst=PLAIN).status_code == 201
    assert poll(client, sim, job_id).status_code == 503
    assert sim.jobs[job_id].polls == 0  # not counted as a poll
    sim.inject("429")
    response = send(client, sim, dst=PLAIN)
    assert response.status_code == 429 and response.headers["Retry-After"] == "0"
    assert statuses(client, sim, job_id, 1) == [("OPEN", "")]


def test_inject_refuses_unknown_faults(sim: RetarusSimulator) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        sim.inject("teapot")


def test_reset_gives_a_connection_error_and_the_server_lives_on(
    sim: RetarusSimulator, client: requests.Session
) -> None:
    sim.inject("reset", path="/sms")
    with pytest.raises(requests.ConnectionError):
        send(client, sim, dst=PLAIN)
    [post] = sim.sms_posts()
    assert post.fault == "reset" and post.params["dst"] == PLAIN
    assert sim.jobs == {}
    assert send(client, sim, dst=PLAIN).status_code == 201
    assert sim.faults_injected == {"reset": 1}


def test_hang_gives_a_read_timeout_and_stop_returns_promptly(client: requests.Session) -> None:
    sim = RetarusSimulator(USER, PASSWORD).start()
    base_url = sim.base_url
    try:
        sim.inject("hang")
        with pytest.raises(requests.ReadTimeout):
            send(client, sim, 0.3, dst=PLAIN)
        assert [post.fault for post in sim.sms_posts()] == ["hang"]
        assert sim.jobs == {}
    finally:
        started = time.monotonic()
        sim.stop()
        assert time.monotonic() - started < 2.0
    with pytest.raises(requests.ConnectionError):
        client.post(f"{base_url}/sms", data=AUTH, timeout=1)


def test_random_faults_are_reproducible_for_a_seed(client: requests.Session) -> None:
    def codes(seed: int) -> list[int]:
        with RetarusSimulator(USER, PASSWORD, seed=seed) as sim:
            sim.set_fault_rates(error_500=0.5, path="/sms")
            result = [send(client, sim, dst=PLAIN).status_code for _ in range(20)]
            assert sim.faults_injected["500"] == result.count(500)
            sim.inject("503", path="/sms")  # an injection takes precedence over the rates
            assert send(client, sim, dst=PLAIN).status_code == 503
            return result

    first = codes(7)
    assert first == codes(7)
    assert set(first) == {201, 500}


def test_fault_rates_must_add_up_to_at_most_one(sim: RetarusSimulator) -> None:
    with pytest.raises(ValueError, match="rates"):
        sim.set_fault_rates(error_500=0.6, reset=0.6)


def test_latency_and_slow_delay_the_answer(sim: RetarusSimulator, client: requests.Session) -> None:
    sim.latency = 0.1
    started = time.monotonic()
    assert send(client, sim, dst=PLAIN).status_code == 201
    assert time.monotonic() - started >= 0.1
    sim.latency = 0.0
    sim.slow_seconds = 0.2
    sim.inject("slow")
    started = time.monotonic()
    assert send(client, sim, dst=PLAIN).status_code == 201
    assert time.monotonic() - started >= 0.2
    assert len(sim.jobs) == 2  # a slow request is processed


def test_garbled_answers_a_success_without_a_readable_body(sim: RetarusSimulator, client: requests.Session) -> None:
    """The provider accepted the SMS (its job exists) but its 201 names no job id; a report's poll
    counts, but its 200 holds no status. An error is answered as ever."""
    sim.inject("garbled", path="/sms")
    response = send(client, sim, dst=PLAIN)
    assert response.status_code == 201 and response.headers["Content-Type"].startswith("text/html")
    with pytest.raises(retarus_bodies.UnexpectedBody):
        retarus_bodies.job_id(response.text)
    [job_id] = sim.jobs  # accepted all the same
    sim.inject("garbled", path="/reports")
    response = poll(client, sim, job_id)
    assert response.status_code == 200 and response.text == "<html><body>oops</body></html>"
    assert sim.jobs[job_id].polls == 1
    sim.inject("garbled", path="/sms")
    assert send(client, sim, dst="+4917012345640").status_code == 400
    assert [request.fault for request in sim.sms_posts()] == ["garbled", "garbled"]


# -- HTTP behaviour ---------------------------------------------------------------------------------


def test_keep_alive_with_content_length(sim: RetarusSimulator) -> None:
    url = urlsplit(sim.base_url)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=5)
    try:
        for _ in range(3):
            body = f"user={USER}&pass={quote(PASSWORD, safe='')}&dst=%2B4917012345678&msg=hi"
            connection.request("POST", f"{url.path}/sms", body, {"Content-Type": "application/x-www-form-urlencoded"})
            response = connection.getresponse()
            data = response.read()
            assert response.status == 201 and response.version == 11
            assert response.getheader("Content-Length") == str(len(data))
            assert not response.will_close
            connection.request("GET", f"{url.path}/reports?user=nobody&pass=x&jobid=x")
            response = connection.getresponse()
            assert response.status == 401 and response.read() == b"" and not response.will_close
        assert connection.sock is not None  # the same connection throughout
    finally:
        connection.close()
    assert len(sim.jobs) == 3


def test_garbage_does_not_kill_the_server(sim: RetarusSimulator, client: requests.Session) -> None:
    url = urlsplit(sim.base_url)
    for garbage in (b"GARBAGE\r\n\r\n", b"POST /x HTTP/1.1\r\nContent-Length: -5\r\n\r\n", b"\x00\xff\r\n\r\n"):
        with socket.create_connection((url.hostname or "", url.port or 0), timeout=5) as raw:
            raw.sendall(garbage)
            assert raw.recv(100)  # some error answer (HTTP/0.9 style for a one-word request line)
    assert send(client, sim, dst=PLAIN).status_code == 201
    assert sim.handler_errors == 0


def test_stop_closes_idle_connections_and_a_restart_keeps_port_and_jobs(client: requests.Session) -> None:
    sim = RetarusSimulator(USER, PASSWORD, body_form="json").start()
    base_url = sim.base_url
    job_id = new_job(client, sim)
    sim.stop()
    with pytest.raises(requests.ConnectionError):  # the pooled keep-alive connection was closed too
        client.get(f"{base_url}/reports", params={**AUTH, "jobid": job_id}, timeout=1)
    sim.start()
    try:
        assert sim.base_url == base_url
        assert statuses(client, sim, job_id, 1) == [("OPEN", "")]
    finally:
        sim.stop()


def test_standalone_serves_in_the_foreground(tmp_path: Path) -> None:
    env = {**os.environ, "RETARUS_SIM_PASSWORD": PASSWORD, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-m", "local.simulator", "--port", "0", "--polls-to-final", "1", "--body-form", "text"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/httpsimple/v1")
        response = requests.post(f"{base_url}/sms", data={**AUTH, "dst": PLAIN, "msg": "x"}, timeout=5)
        assert response.status_code == 201
        report = requests.get(f"{base_url}/reports", params={**AUTH, "jobid": response.text.strip()}, timeout=5)
        assert report.text == "DONE SUC_ACC\n"
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


def test_number_ending_in_50_fails_every_post() -> None:
    with RetarusSimulator(user="u", password="p") as sim:
        for _ in range(3):
            answer = requests.post(
                f"{sim.base_url}/sms",
                data={"user": "u", "pass": "p", "dst": "+4917012345650", "msg": "x"},
                timeout=5,
            )
            assert answer.status_code == 500
        assert sim.jobs == {}


def test_number_ending_in_51_is_refused_four_times_then_accepted() -> None:
    with RetarusSimulator(user="u", password="p") as sim:
        codes = [
            requests.post(
                f"{sim.base_url}/sms", data={"user": "u", "pass": "p", "dst": "+4917012345651", "msg": "x"}, timeout=5
            ).status_code
            for _ in range(6)
        ]
        assert codes == [503, 503, 503, 503, 201, 201]


def test_an_outage_answers_every_request_503_within_its_window() -> None:
    with RetarusSimulator(user="u", password="p") as sim:
        form = {"user": "u", "pass": "p", "dst": "+4917012345678", "msg": "x"}
        sim.set_outage(time.time() - 1, time.time() + 60)
        assert requests.post(f"{sim.base_url}/sms", data=form, timeout=5).status_code == 503
        assert requests.get(f"{sim.base_url}/reports", params={"jobid": "J.x"}, timeout=5).status_code == 503
        assert sim.faults_injected["outage"] == 2 and sim.jobs == {}
        sim.set_outage(time.time() - 60, time.time() - 1)  # over
        assert requests.post(f"{sim.base_url}/sms", data=form, timeout=5).status_code == 201
        with pytest.raises(ValueError):
            sim.set_outage(2.0, 1.0)
