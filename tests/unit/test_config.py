"""Settings are validated once, with messages that say what to fix."""

from __future__ import annotations

import re

import pytest

from sms_pipeline.config import ConfigError, Settings

ENV = {
    "JOBS_TABLE_NAME": "jobs",
    "OUTCOMES_TOPIC_ARN": "arn:aws:sns:eu-central-1:123456789012:outcomes",
    "RETARUS_BASE_URL": "https://sms4a.retarus.com/httpsimple/v1",
    "RETARUS_SECRET_ARN": "arn:aws:secretsmanager:eu-central-1:123456789012:secret:retarus",
    "STATUS_CHECK_DELAYS_SECONDS": "30,60,120",
    "TRACKING_LIMIT_MINUTES": "4320",
    "RESEND_UNCONFIRMED": "false",
    "DUE_INDEX_NAME": "due",
    "DUE_INDEX_SHARDS": "4",
    "RECORD_RETENTION_DAYS": "30",
    "REQUEST_QUEUE_URL": "https://sqs.eu-central-1.amazonaws.com/123456789012/requests",
    "CHECK_QUEUE_URL": "https://sqs.eu-central-1.amazonaws.com/123456789012/checks",
    "CHECK_TIMER_MARGIN_SECONDS": "60",
    "CHECK_TIMER_MAX_DELAY_SECONDS": "900",
    "DEFAULT_VALIDITY_SECONDS": "14400",
    "RETRY_DELAYS_SECONDS": "10,30,60",
    "MAX_SEGMENTS": "10",
    "SMART_ENCODING": "false",
    "COUNTERS_TABLE_NAME": "counters",
    "OPT_OUT_TABLE_NAME": "opt-out",
    "ALLOWED_DESTINATION_PREFIXES": "",
    "MAX_PER_NUMBER_PER_WINDOW": "0",
    "NUMBER_WINDOW_SECONDS": "3600",
    "DAILY_SEGMENT_LIMIT": "0",
    "FALLBACK_PROVIDER": "none",
}
FALLBACK = {
    "FALLBACK_PROVIDER": "aws-sms",
    "FALLBACK_ORIGINATION_IDENTITY": "arn:aws:sms-voice:eu-central-1:123456789012:phone-number/phone-0123abcd",
    "FALLBACK_CONFIGURATION_SET": "sms-fallback",
    "FAILOVER_AFTER_SECONDS": "60",
}


def problems(env: dict[str, str]) -> str:
    """What the ConfigError of these settings says: every problem found, not just the first."""
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(env)
    return str(raised.value)


def test_valid_environment() -> None:
    settings = Settings.from_env(ENV)
    assert settings.check_delays == (30, 60, 120)
    assert settings.tracking_limit_seconds == 4320 * 60
    assert settings.resend_unconfirmed is False
    assert settings.default_validity_seconds == 14400 and settings.retry_delays == (10, 30, 60)


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("DEFAULT_VALIDITY_SECONDS", "4", "must be at least 5 (parameter DefaultValiditySeconds)"),
        ("DEFAULT_VALIDITY_SECONDS", "345601", "must be at most 345600 (parameter DefaultValiditySeconds)"),
        ("RETRY_DELAYS_SECONDS", "10,x", "must be comma-separated whole seconds (parameter RetryDelaysSeconds)"),
        ("RETRY_DELAYS_SECONDS", "10,43201", "longer than 43200 s (parameter RetryDelaysSeconds)"),
        ("REQUEST_QUEUE_URL", "", "REQUEST_QUEUE_URL is not set (it comes from the RequestQueue resource"),
        ("CHECK_QUEUE_URL", "", "CHECK_QUEUE_URL is not set (it comes from the CheckQueue resource"),
        ("CHECK_TIMER_MARGIN_SECONDS", "soon", "is not a whole number (parameter CheckTimerMarginSeconds)"),
        ("CHECK_TIMER_MAX_DELAY_SECONDS", "901", "must be at most 900 (parameter CheckTimerMaxDelaySeconds)"),
    ],
)
def test_validity_and_retry_settings_are_checked(name: str, value: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(problem)):
        Settings.from_env({**ENV, name: value})


def test_protection_rules_are_read_and_checked() -> None:
    """Contract §10: off by default (empty, 0); set, each is checked and named by its parameter."""
    rules = Settings.from_env(ENV).protection
    assert (rules.allowed_prefixes, rules.max_per_number, rules.daily_segment_limit) == ((), 0, 0)
    rules = Settings.from_env(
        {**ENV, "ALLOWED_DESTINATION_PREFIXES": "+49, +43,+4179", "MAX_PER_NUMBER_PER_WINDOW": "3"}
    ).protection
    assert rules.allowed_prefixes == ("+49", "+43", "+4179") and rules.max_per_number == 3
    env = {
        **ENV,
        "ALLOWED_DESTINATION_PREFIXES": "+49,0043",
        "MAX_PER_NUMBER_PER_WINDOW": "51",
        "NUMBER_WINDOW_SECONDS": "0",
        "DAILY_SEGMENT_LIMIT": "-1",
    }
    message = problems(env)
    assert "0043 not an E.164 prefix such as +49 (parameter AllowedDestinationPrefixes)" in message
    assert "MAX_PER_NUMBER_PER_WINDOW=51 must be at most 50 (parameter MaxPerNumberPerWindow)" in message
    assert "NUMBER_WINDOW_SECONDS=0 must be at least 1 (parameter NumberWindowSeconds)" in message
    assert "DAILY_SEGMENT_LIMIT=-1 must be at least 0 (parameter DailySegmentLimit)" in message
    del env["ALLOWED_DESTINATION_PREFIXES"]
    with pytest.raises(ConfigError, match="ALLOWED_DESTINATION_PREFIXES is not set"):
        Settings.from_env(env)


def test_every_problem_is_listed_with_its_template_source() -> None:
    env = {**ENV, "JOBS_TABLE_NAME": "", "STATUS_CHECK_DELAYS_SECONDS": "30,soon", "RESEND_UNCONFIRMED": "maybe"}
    del env["OUTCOMES_TOPIC_ARN"]
    message = problems(env)
    assert "JOBS_TABLE_NAME is not set (it comes from the JobsTable resource" in message
    assert "OUTCOMES_TOPIC_ARN is not set" in message
    assert "StatusCheckDelaysSeconds" in message
    assert "ResendUnconfirmed" in message


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://sms4a.retarus.com/httpsimple/v1", True),
        ("http://127.0.0.1:8080/httpsimple/v1", True),
        ("http://localhost:8080/x", True),
        ("http://[::1]:8080/x", True),
        ("http://sms4a.retarus.com/httpsimple/v1", False),
        ("https://user:pw@sms4a.retarus.com/httpsimple/v1", False),
        ("ftp://sms4a.retarus.com", False),
    ],
)
def test_provider_url_must_be_https_unless_loopback(url: str, ok: bool) -> None:
    if ok:
        assert Settings.from_env({**ENV, "RETARUS_BASE_URL": url}).retarus_base_url == url
    else:
        with pytest.raises(ConfigError, match="RETARUS_BASE_URL") as raised:
            Settings.from_env({**ENV, "RETARUS_BASE_URL": url})
        assert "pw@" not in str(raised.value)


def test_without_a_fallback_provider_its_settings_are_not_needed() -> None:
    settings = Settings.from_env({**ENV, "FALLBACK_ORIGINATION_IDENTITY": "", "FALLBACK_CONFIGURATION_SET": "x"})
    assert not settings.has_fallback
    assert settings.fallback_origination_identity is None and settings.fallback_configuration_set is None
    assert settings.failover_after_seconds is None


def test_a_fallback_provider_reads_its_identity_configuration_set_and_delay() -> None:
    settings = Settings.from_env({**ENV, **FALLBACK, "FALLBACK_READ_TIMEOUT": "2.5"})
    assert settings.has_fallback and settings.fallback_provider == "aws-sms"
    assert settings.fallback_origination_identity == FALLBACK["FALLBACK_ORIGINATION_IDENTITY"]
    assert settings.fallback_configuration_set == "sms-fallback"
    assert settings.failover_after_seconds == 60
    assert (settings.fallback_connect_timeout, settings.fallback_read_timeout) == (3.05, 2.5)


@pytest.mark.parametrize(
    "identity",
    [
        FALLBACK["FALLBACK_ORIGINATION_IDENTITY"],
        "+15551234567",
        "MyBrand",
        "pool-0123456789abcdef0123456789abcdef",
        "phone-0123456789abcdef0123456789abcdef",
    ],
)
def test_the_fallback_sends_from_a_phone_number_sender_id_or_pool_or_the_arn_of_one(identity: str) -> None:
    """Contract §12: the template's FallbackOriginationIdentity passes through as it is."""
    settings = Settings.from_env({**ENV, **FALLBACK, "FALLBACK_ORIGINATION_IDENTITY": identity})
    assert settings.fallback_origination_identity == identity


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"FALLBACK_PROVIDER": ""}, "FALLBACK_PROVIDER is not set (it comes from parameter FallbackProvider"),
        ({"FALLBACK_PROVIDER": "twilio"}, "FALLBACK_PROVIDER='twilio' must be one of none, aws-sms"),
        (
            {"FALLBACK_ORIGINATION_IDENTITY": " "},
            "FALLBACK_ORIGINATION_IDENTITY is not set (it comes from parameter FallbackOriginationIdentity",
        ),
        ({"FALLBACK_CONFIGURATION_SET": ""}, "FALLBACK_CONFIGURATION_SET is not set (it comes from the Fallback"),
        ({"FAILOVER_AFTER_SECONDS": ""}, "FAILOVER_AFTER_SECONDS is not set (it comes from parameter Failover"),
        ({"FAILOVER_AFTER_SECONDS": "-1"}, "FAILOVER_AFTER_SECONDS=-1 must be at least 0"),
        ({"FAILOVER_AFTER_SECONDS": "345601"}, "FAILOVER_AFTER_SECONDS=345601 must be at most 345600"),
        ({"FALLBACK_READ_TIMEOUT": "0"}, "FALLBACK_READ_TIMEOUT must be positive"),
    ],
)
def test_a_fallback_providers_settings_are_checked_at_cold_start(changes: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(problem)):
        Settings.from_env({**ENV, **FALLBACK, **changes})
