"""The Retarus SMS HTTP client, the provider port's Retarus adapter: one pooled session, timeouts,
bounded retries, and the answers as the port's errors (ports.py) and verdicts (statuses.py).

The errors are the rows of contract §3, so the use cases decide outcomes without knowing HTTP; each
error's reason is its message without the call it came from, which its text still names for the logs.
Credentials travel in the form body (POST) or the query (GET, the only place a GET has): requests
and urllib3 put URLs into exception texts and debug logs, so nothing raised or logged here carries
the original exception or URL; every message is built from parts known to be clean, and `redact`
removes the credentials from anything that might still hold them.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NameResolutionError, NewConnectionError

from sms_pipeline.outcomes import ProviderStatus, Verdict
from sms_pipeline.ports import ConfigurationFault, Rejected, TransientError, UnexpectedResponse, UnknownResult
from sms_pipeline.retarus import bodies, statuses
from sms_pipeline.retarus.credentials import Credentials

if TYPE_CHECKING:
    from sms_pipeline.request import SmsRequest

USER_AGENT: Final = "sms-pipeline/0.1 (+python-requests)"


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    base_delay: float = 0.2
    max_delay: float = 2.0

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """Full jitter (AWS architecture blog): spreads a burst of retries instead of synchronising it."""
        return float(rng() * min(self.max_delay, self.base_delay * (2**attempt)))


class RetarusClient:
    def __init__(
        self,
        base_url: str,
        credentials: Callable[[], Credentials],
        *,
        connect_timeout: float = 3.05,
        read_timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        pool_size: int = 10,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._credentials = credentials
        self._timeout = (connect_timeout, read_timeout)
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._session = session or _pooled_session(pool_size, self._base_url)

    def ready(self) -> None:
        """Read the credentials (cached per container), so that a send's claim is followed by its
        POST and nothing else: a slow or missing secret shows here, before the claim."""
        self._credentials()

    def send(self, sms: SmsRequest, *, deadline: float | None = None, retries: bool = True) -> str:
        """POST /sms; the provider's job id. Retries transient failures while `deadline` allows,
        unless `retries` is off (one POST: the caller retries later)."""
        form = {"dst": sms.to, "msg": sms.text}
        if sms.sender is not None:
            form["src"] = sms.sender
        form["dn"] = "true" if sms.delivery_report else "false"
        form["qos"] = sms.priority
        if sms.billing_code:
            form["bc"] = sms.billing_code
        if sms.reference:
            form["ref"] = sms.reference
        body = self._call(
            "POST", "/sms", form=form, idempotent=False, expect=201, deadline=deadline, attempts=None if retries else 1
        )
        try:
            return bodies.job_id(body)
        except bodies.UnexpectedBody as error:
            # Accepted (201) but unreadable: the SMS is on its way and cannot be tracked.
            raise UnknownResult(f"201 with an {error}", call="POST /sms", accepted=True) from None

    def report(self, job_id: str, *, deadline: float | None = None) -> Verdict:
        """What GET /reports says of one job, through the status table (statuses.py)."""
        return statuses.verdict(self.status(job_id, deadline=deadline))

    def status(self, job_id: str, *, deadline: float | None = None) -> ProviderStatus:
        """GET /reports for one job; the provider's (processStatus, status), normalised."""
        body = self._call("GET", "/reports", query={"jobid": job_id}, idempotent=True, expect=200, deadline=deadline)
        try:
            return bodies.report(body)
        except bodies.UnexpectedBody as error:
            raise UnexpectedResponse(str(error), call="GET /reports") from None

    def close(self) -> None:
        self._session.close()

    def _call(
        self,
        method: str,
        path: str,
        *,
        form: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        idempotent: bool,
        expect: int,
        deadline: float | None,
        attempts: int | None = None,
    ) -> str:
        credentials = self._credentials()
        attempts = attempts or self._retry.attempts
        auth = {"user": credentials.user, "pass": credentials.password}
        url = self._base_url + path
        attempt = 0
        while True:
            try:
                return self._once(method, url, path, form, query, auth, idempotent, expect)
            except TransientError as error:
                attempt += 1
                wait = self._retry.delay(attempt)
                if error.retry_after is not None:
                    wait = max(wait, error.retry_after)
                out_of_time = deadline is not None and self._clock() + wait + self._timeout[0] >= deadline
                if attempt >= attempts or out_of_time:
                    raise
                self._sleep(wait)

    def _once(
        self,
        method: str,
        url: str,
        path: str,
        form: Mapping[str, str] | None,
        query: Mapping[str, str] | None,
        auth: Mapping[str, str],
        idempotent: bool,
        expect: int,
    ) -> str:
        what = f"{method} {path}"
        secrets = (auth["pass"],)  # the login id is not secret; redacting a short one would garble text
        try:
            if method == "POST":
                response = self._session.post(url, data={**(form or {}), **auth}, timeout=self._timeout)
            else:
                response = self._session.get(url, params={**(query or {}), **auth}, timeout=self._timeout)
        except requests.exceptions.ConnectTimeout:
            raise TransientError(f"connect timeout to {self._host}", call=what) from None
        except requests.exceptions.ReadTimeout:
            if idempotent:
                raise TransientError(f"no answer within {self._timeout[1]} s", call=what) from None
            raise UnknownResult(f"no answer within {self._timeout[1]} s", call=what) from None
        except requests.exceptions.SSLError as error:
            raise TransientError(f"TLS failure with {self._host} ({_cause(error, secrets)})", call=what) from None
        except requests.exceptions.ConnectionError as error:
            if _before_send(error) or idempotent:
                raise TransientError(
                    f"connection to {self._host} failed ({_cause(error, secrets)})", call=what
                ) from None
            raise UnknownResult(
                f"connection to {self._host} lost after sending ({_cause(error, secrets)})", call=what
            ) from None
        except requests.exceptions.RequestException as error:
            raise TransientError(_cause(error, secrets), call=what) from None

        code = response.status_code
        text = response.text
        if code == expect:
            return text
        if code == 400:
            raise Rejected("400, the provider refused the parameters", call=what)
        if code in (401, 403):
            raise ConfigurationFault(
                f"{code}, the provider refused the credentials; fix the user/password in the Retarus secret", call=what
            )
        if code in (404, 405):
            raise ConfigurationFault(
                f"{code} from {self._host}; check RetarusBaseUrl (it must end before /sms)", call=what
            )
        if code == 429 or code >= 500:
            raise TransientError(
                f"provider answered {code}", call=what, retry_after=_retry_after(response.headers.get("Retry-After"))
            )
        raise UnexpectedResponse(f"unexpected HTTP {code}", call=what)

    @property
    def _host(self) -> str:
        return urlsplit(self._base_url).hostname or "?"


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with each secret, raw and URL-encoded (both ways requests may write it), replaced."""
    for secret in secrets:
        if not secret:
            continue
        for form in {
            secret,
            quote(secret, safe=""),
            quote(secret, safe="").replace("%20", "+"),
            quote(secret),
        }:
            text = text.replace(form, "***")
    return text


def _cause(error: BaseException, secrets: tuple[str, ...]) -> str:
    """The innermost cause's type and message, which urllib3 fills with URLs: redacted, shortened."""
    inner: BaseException = error
    while inner.__context__ is not None and inner.__context__ is not inner:
        inner = inner.__context__
    reason = getattr(error.args[0], "reason", None) if error.args else None
    source = reason if isinstance(reason, BaseException) else inner
    text = redact(str(source), secrets)
    # urllib3 repeats the URL ("... url: /reports?jobid=..&user=..&pass=..") — cut it off entirely.
    text = text.split(" url: ", 1)[0].split("(Caused by", 1)[0]
    return f"{type(source).__name__}: {text[:160]}"


def _before_send(error: requests.exceptions.ConnectionError) -> bool:
    """True when the connection never carried the request (refused, DNS, unreachable)."""
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(reason, NewConnectionError | NameResolutionError)


def _retry_after(value: str | None) -> float | None:
    try:
        return min(float(value), 5.0) if value is not None else None
    except ValueError:
        return None


def _pooled_session(pool_size: int, base_url: str) -> requests.Session:
    session = requests.Session()
    # Retries are ours (they know what is safe to repeat); urllib3 must not replay a POST.
    adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool_size, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    # Left to itself, requests reads the environment again for every call: proxies and NO_PROXY
    # (two scans of os.environ), the CA bundle, a look for ~/.netrc. A container's environment does
    # not change, so its proxy and CA settings are read once, here, and the session keeps them.
    # A ~/.netrc is no longer consulted: the credentials are the secret's and go in the form.
    from_environment = session.merge_environment_settings(base_url, {}, None, None, None)
    session.proxies.update(from_environment["proxies"])
    session.verify = from_environment["verify"]
    session.trust_env = False
    return session


class _RedactUrllib3(logging.Filter):
    """urllib3 logs request lines, query strings included, at DEBUG: such records are dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pass=" not in record.getMessage()


logging.getLogger("urllib3.connectionpool").addFilter(_RedactUrllib3())
