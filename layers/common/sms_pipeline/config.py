"""Settings, read from the environment the template sets and validated once, at cold start.

A missing or malformed variable stops the container with one message that lists every problem and
names the template parameter behind it, instead of failing record by record later.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import urlsplit

from sms_pipeline.limits import (
    E164_PREFIX,
    MAX_PER_NUMBER_LIMIT,
    MAX_SEGMENTS,
    MAX_VALIDITY_SECONDS,
    MAX_WINDOW_SECONDS,
    MIN_VALIDITY_SECONDS,
    Rules,
)
from sms_pipeline.timers import TIMER_LIMIT_SECONDS

# SQS refuses a visibility timeout beyond 12 hours from a message's receipt.
MAX_VISIBILITY_SECONDS = 43_200
# SQS's largest DelaySeconds of a message: a scheduled request is put back at most this early (§11).
MAX_DELAY_SECONDS = 900
# Template parameter FallbackProvider (contract §12).
NO_FALLBACK = "none"
FALLBACK_PROVIDERS = (NO_FALLBACK, "aws-sms")


class ConfigError(RuntimeError):
    """The deployment is misconfigured; the message says what to fix."""


class Settings(NamedTuple):
    """Every function's settings, read and checked once per container (`from_env`), then only read.

    A named tuple, not a frozen dataclass: as immutable, and its class costs under half as much to
    make. A dataclass compiles its generated methods at import, and for these 35 fields that was
    about 1 % of every function's cold start (bench/coldstart.py).
    """

    table_name: str
    topic_arn: str
    retarus_base_url: str
    retarus_secret_arn: str
    check_delays: tuple[int, ...]
    tracking_limit_seconds: int
    resend_unconfirmed: bool
    due_index_name: str
    due_index_shards: int
    record_retention_seconds: int
    send_concurrency: int
    status_concurrency: int
    connect_timeout: float
    read_timeout: float
    secret_max_age: int
    publish_lease_seconds: int
    status_max_jobs: int
    request_queue_url: str
    check_queue_url: str
    check_timer_margin_seconds: int
    check_timer_max_delay_seconds: int  # 0: no check timers, every check is the scheduled run's
    default_validity_seconds: int
    retry_delays: tuple[int, ...]
    max_segments: int
    smart_encoding: bool
    counters_table_name: str
    opt_out_table_name: str
    protection: Rules
    fallback_provider: str  # one of FALLBACK_PROVIDERS
    # The three below are None without a fallback provider: nothing reads them then.
    fallback_origination_identity: str | None
    fallback_configuration_set: str | None
    failover_after_seconds: int | None
    fallback_connect_timeout: float
    fallback_read_timeout: float
    schedule_lead_seconds: int = 900  # how early a scheduled request is put back on the queue (§11)

    @property
    def has_fallback(self) -> bool:
        return self.fallback_provider != NO_FALLBACK

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        reader = _Reader(os.environ if environ is None else environ)
        provider = reader.choice("FALLBACK_PROVIDER", "parameter FallbackProvider", FALLBACK_PROVIDERS)
        fallback = provider in FALLBACK_PROVIDERS and provider != NO_FALLBACK
        settings = cls(
            table_name=reader.text("JOBS_TABLE_NAME", "the JobsTable resource"),
            topic_arn=reader.text("OUTCOMES_TOPIC_ARN", "the OutcomesTopic resource"),
            retarus_base_url=reader.url("RETARUS_BASE_URL", "parameter RetarusBaseUrl"),
            retarus_secret_arn=reader.text("RETARUS_SECRET_ARN", "parameter RetarusSecretArn"),
            check_delays=reader.delays("STATUS_CHECK_DELAYS_SECONDS", "parameter StatusCheckDelaysSeconds"),
            tracking_limit_seconds=60 * reader.integer("TRACKING_LIMIT_MINUTES", "parameter TrackingLimitMinutes"),
            resend_unconfirmed=reader.boolean("RESEND_UNCONFIRMED", "parameter ResendUnconfirmed"),
            due_index_name=reader.text("DUE_INDEX_NAME", "the JobsTable's due index"),
            due_index_shards=reader.integer("DUE_INDEX_SHARDS", "parameter DueIndexShards", minimum=1),
            record_retention_seconds=86400
            * reader.integer("RECORD_RETENTION_DAYS", "parameter RecordRetentionDays", minimum=1),
            request_queue_url=reader.text("REQUEST_QUEUE_URL", "the RequestQueue resource"),
            check_queue_url=reader.text("CHECK_QUEUE_URL", "the CheckQueue resource"),
            check_timer_max_delay_seconds=reader.integer(
                "CHECK_TIMER_MAX_DELAY_SECONDS", "parameter CheckTimerMaxDelaySeconds", maximum=TIMER_LIMIT_SECONDS
            ),
            check_timer_margin_seconds=reader.integer(
                "CHECK_TIMER_MARGIN_SECONDS", "parameter CheckTimerMarginSeconds", maximum=MAX_VISIBILITY_SECONDS
            ),
            default_validity_seconds=reader.integer(
                "DEFAULT_VALIDITY_SECONDS",
                "parameter DefaultValiditySeconds",
                minimum=MIN_VALIDITY_SECONDS,
                maximum=MAX_VALIDITY_SECONDS,
            ),
            retry_delays=reader.delays(
                "RETRY_DELAYS_SECONDS", "parameter RetryDelaysSeconds", maximum=MAX_VISIBILITY_SECONDS
            ),
            max_segments=reader.integer("MAX_SEGMENTS", "parameter MaxSegments", minimum=1, maximum=MAX_SEGMENTS),
            smart_encoding=reader.boolean("SMART_ENCODING", "parameter SmartEncoding"),
            counters_table_name=reader.text("COUNTERS_TABLE_NAME", "the CountersTable resource"),
            opt_out_table_name=reader.text("OPT_OUT_TABLE_NAME", "the OptOutTable resource"),
            protection=reader.rules(),
            fallback_provider=provider,
            # Only a deployment with a fallback needs these (FallbackProvider=none leaves the identity
            # empty and names a configuration set that is not created).
            fallback_origination_identity=reader.text(
                "FALLBACK_ORIGINATION_IDENTITY", "parameter FallbackOriginationIdentity"
            )
            if fallback
            else None,
            fallback_configuration_set=reader.text(
                "FALLBACK_CONFIGURATION_SET", "the FallbackConfigurationSet resource"
            )
            if fallback
            else None,
            failover_after_seconds=reader.integer(
                "FAILOVER_AFTER_SECONDS", "parameter FailoverAfterSeconds", maximum=MAX_VALIDITY_SECONDS
            )
            if fallback
            else None,
            # Tuning knobs, not resource names: these have defaults.
            send_concurrency=reader.integer("SEND_CONCURRENCY", "SendFunction", default=10, minimum=1),
            status_concurrency=reader.integer(
                "STATUS_CONCURRENCY", "parameter StatusConcurrency", default=16, minimum=1
            ),
            connect_timeout=reader.seconds("RETARUS_CONNECT_TIMEOUT", default=3.05),
            read_timeout=reader.seconds("RETARUS_READ_TIMEOUT", default=10.0),
            fallback_connect_timeout=reader.seconds("FALLBACK_CONNECT_TIMEOUT", default=3.05),
            fallback_read_timeout=reader.seconds("FALLBACK_READ_TIMEOUT", default=10.0),
            secret_max_age=reader.integer("RETARUS_SECRET_MAX_AGE", "secret cache", default=300, minimum=0),
            publish_lease_seconds=reader.integer("PUBLISH_LEASE_SECONDS", "publish lease", default=60, minimum=1),
            status_max_jobs=reader.integer(
                "STATUS_MAX_JOBS_PER_RUN", "parameter StatusMaxJobsPerRun", default=2000, minimum=1
            ),
            # SQS's largest DelaySeconds; a local run or a test scales it down.
            schedule_lead_seconds=reader.integer(
                "SCHEDULE_LEAD_SECONDS",
                "scheduled put-back",
                default=MAX_DELAY_SECONDS,
                minimum=1,
                maximum=MAX_DELAY_SECONDS,
            ),
        )
        reader.raise_problems()
        return settings


class _Reader:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        self._problems: list[str] = []

    def raise_problems(self) -> None:
        if self._problems:
            raise ConfigError("invalid configuration: " + "; ".join(self._problems))

    def _raw(self, name: str, source: str, default: str | None = None) -> str | None:
        value = self._environ.get(name, "").strip()
        if value:
            return value
        if default is None:
            self._problems.append(f"{name} is not set (it comes from {source} in template.yaml)")
        return default

    def text(self, name: str, source: str) -> str:
        return self._raw(name, source) or ""

    def integer(
        self, name: str, source: str, *, default: int | None = None, minimum: int = 0, maximum: int | None = None
    ) -> int:
        raw = self._raw(name, source, None if default is None else str(default))
        try:
            value = int(raw) if raw is not None else 0
        except ValueError:
            self._problems.append(f"{name}={raw!r} is not a whole number ({source})")
            return default or 0
        if raw is not None and value < minimum:
            self._problems.append(f"{name}={value} must be at least {minimum} ({source})")
        if raw is not None and maximum is not None and value > maximum:
            self._problems.append(f"{name}={value} must be at most {maximum} ({source})")
        return value

    def rules(self) -> Rules:
        """The protection rules (contract §10); AllowedDestinationPrefixes may be empty (every
        destination), but the variable must be set."""
        name, source = "ALLOWED_DESTINATION_PREFIXES", "parameter AllowedDestinationPrefixes"
        raw = self._environ.get(name)
        if raw is None:
            self._problems.append(f"{name} is not set (it comes from {source} in template.yaml)")
        prefixes = Rules.parse_prefixes(raw or "")
        bad = [prefix for prefix in prefixes if not E164_PREFIX.match(prefix)]
        if bad:
            self._problems.append(f"{name}={raw!r}: {', '.join(bad)} not an E.164 prefix such as +49 ({source})")
        per_number = self.integer(
            "MAX_PER_NUMBER_PER_WINDOW", "parameter MaxPerNumberPerWindow", maximum=MAX_PER_NUMBER_LIMIT
        )
        window = self.integer(
            "NUMBER_WINDOW_SECONDS", "parameter NumberWindowSeconds", minimum=1, maximum=MAX_WINDOW_SECONDS
        )
        daily = self.integer("DAILY_SEGMENT_LIMIT", "parameter DailySegmentLimit")
        try:
            return Rules(tuple(p for p in prefixes if p not in bad), per_number, window, daily)
        except ValueError:  # each problem is listed above
            return Rules()

    def seconds(self, name: str, *, default: float) -> float:
        raw = self._environ.get(name, "").strip()
        try:
            value = float(raw) if raw else default
        except ValueError:
            self._problems.append(f"{name}={raw!r} is not a number of seconds")
            return default
        if value <= 0:
            self._problems.append(f"{name} must be positive")
        return value

    def choice(self, name: str, source: str, allowed: tuple[str, ...]) -> str:
        raw = self._raw(name, source) or ""
        if raw and raw not in allowed:
            self._problems.append(f"{name}={raw!r} must be one of {', '.join(allowed)} ({source})")
        return raw

    def boolean(self, name: str, source: str) -> bool:
        raw = (self._raw(name, source) or "").lower()
        if raw not in ("true", "false"):
            if raw:
                self._problems.append(f"{name}={raw!r} must be true or false ({source})")
            return False
        return raw == "true"

    def delays(self, name: str, source: str, *, maximum: int | None = None) -> tuple[int, ...]:
        raw = self._raw(name, source) or ""
        try:
            delays = tuple(int(part) for part in raw.split(","))
        except ValueError:
            if raw:
                self._problems.append(f"{name}={raw!r} must be comma-separated whole seconds ({source})")
            return (0,)
        if any(delay < 0 for delay in delays):
            self._problems.append(f"{name} must not hold negative waits ({source})")
        if maximum is not None and any(delay > maximum for delay in delays):
            self._problems.append(f"{name} must not hold waits longer than {maximum} s ({source})")
        return delays

    def url(self, name: str, source: str) -> str:
        raw = self._raw(name, source) or ""
        if not raw:
            return raw
        parts = urlsplit(raw)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self._problems.append(f"{name} must be an http(s) URL ({source})")
        elif parts.scheme == "http" and not _is_loopback(parts.hostname):
            self._problems.append(
                f"{name} must use https (plain http is allowed for loopback addresses only) ({source})"
            )
        if parts.username or parts.password or parts.query:
            self._problems.append(f"{name} must not carry credentials or a query; use the secret ({source})")
        return raw.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
