"""Shared fixtures: a moto server (real HTTP endpoint), the template's resources created from
template.yaml, the Retarus simulator, and the two handlers loaded as Lambda would load them."""

from __future__ import annotations

import io
import itertools
import json
import logging
import os
from collections.abc import Iterator

import boto3
import pytest

from local.aws_sms import AwsSmsSimulator, sns_sink
from local.moto_server import ServerThread
from local.simulator import RetarusSimulator
from local.stack import provision
from support import FULL_NUMBER, NEVER_LOGGED, REGION, SIMULATOR_PASSWORD, Pipeline

_stack_numbers = itertools.count()

# As the template sets it, before the first import of the layer's observability module.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "sms-pipeline")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "SmsPipeline")
logging.getLogger("werkzeug").setLevel(logging.WARNING)


# --- what the whole suite logged: no password, no full phone number, no message text ------------


class _SuiteLog(logging.Handler):
    """Every record any logger emits during the run, formatted with its extras (Powertools JSON)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from sms_pipeline.observability import logger

            formatter = logger.registered_handler.formatter
            self.lines.append(formatter.format(record) if formatter else record.getMessage())
        except Exception:  # a log line that cannot be formatted is still checked as text
            self.lines.append(record.getMessage())


_suite_log = _SuiteLog()


def pytest_sessionstart(session: pytest.Session) -> None:
    from sms_pipeline.observability import logger

    logger.addHandler(_suite_log)
    logging.getLogger().addHandler(_suite_log)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    text = "\n".join(_suite_log.lines)
    problems = [f"a secret or a message text: {secret[:4]}…" for secret in NEVER_LOGGED if secret in text]
    problems += [f"a full phone number: …{number[-4:]}" for number in set(FULL_NUMBER.findall(text))]
    if problems:
        print(f"\nLOG CHECK FAILED over {len(_suite_log.lines)} log lines: " + "; ".join(sorted(problems)))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif _suite_log.lines:
        print(f"\nlog check: {len(_suite_log.lines)} log lines, no password, phone number or message text")


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """Everything the functions log (Powertools' JSON lines) during one test."""
    from sms_pipeline.observability import logger

    stream = io.StringIO()
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


@pytest.fixture(autouse=True)
def _environment_of_its_own() -> Iterator[None]:
    """A handler is loaded with its environment set in os.environ, as in a Lambda container
    (local/lambda_runtime.py); one test's overrides (STATUS_MAX_JOBS_PER_RUN=10, say) must not
    configure the handlers of the tests after it."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = ServerThread()  # moto as make run and the bench serve it (local/moto_server.py)
    endpoint = server.start()
    saved = {k: os.environ.get(k) for k in _AWS_ENV}
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": endpoint,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_DEV": "false",
        }
    )
    yield endpoint
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


_AWS_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "POWERTOOLS_TRACE_DISABLED",
    "POWERTOOLS_METRICS_DISABLED",
    "POWERTOOLS_DEV",
)


@pytest.fixture
def simulator() -> Iterator[RetarusSimulator]:
    with RetarusSimulator(user="sim-user", password=SIMULATOR_PASSWORD) as sim:
        yield sim


@pytest.fixture
def template_parameters() -> dict[str, str]:
    """Template parameters of the test's deployment on top of the fixture's own; a test sets them
    with `@pytest.mark.parametrize("template_parameters", [{...}])`."""
    return {}


@pytest.fixture
def pipeline(moto_endpoint: str, simulator: RetarusSimulator, template_parameters: dict[str, str]) -> Pipeline:
    return deploy(moto_endpoint, simulator, **template_parameters)


# The fallback's origination identity in the tests' stacks: the ARN of a phone number (the
# template takes a phone number, sender id or pool, or the ARN of one).
FALLBACK_IDENTITY = "arn:aws:sms-voice:eu-central-1:123456789012:phone-number/phone-0123abcd"


@pytest.fixture
def fallback_identity() -> str:
    """FallbackOriginationIdentity of fallback_pipeline; a test sets another with
    `@pytest.mark.parametrize("fallback_identity", [...])`."""
    return FALLBACK_IDENTITY


@pytest.fixture
def fallback_pipeline(moto_endpoint: str, simulator: RetarusSimulator, fallback_identity: str) -> Iterator[Pipeline]:
    """A deployment with FallbackProvider aws-sms and FailoverAfterSeconds 30, its AWS SMS simulator
    publishing delivery events to the stack's events topic, and that topic's queue subscribed with
    raw delivery, as the template's subscription is (local/stack.py creates no subscriptions)."""
    deployed = deploy(
        moto_endpoint,
        simulator,
        FallbackProvider="aws-sms",
        FallbackOriginationIdentity=fallback_identity,
        FailoverAfterSeconds="30",
    )
    topic = deployed.stack.resources["FallbackEventsTopic"].ref
    queue_arn = deployed.stack.resources["FallbackEventsQueue"].attributes["Arn"]
    deployed.sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
    )
    configuration_set = deployed.stack.function_environment("SendFunction")["FALLBACK_CONFIGURATION_SET"]
    with AwsSmsSimulator(
        origination_identity=fallback_identity,
        configuration_set=configuration_set,
        events=sns_sink(moto_endpoint, topic, REGION),
    ) as aws_sms:
        deployed.aws_sms = aws_sms
        deployed.env["AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2"] = aws_sms.endpoint_url
        deployed.env["FALLBACK_READ_TIMEOUT"] = "1.0"
        yield deployed


def deploy(moto_endpoint: str, simulator: RetarusSimulator, **parameters: str) -> Pipeline:
    secretsmanager = boto3.client("secretsmanager", region_name=REGION)
    prefix = f"t{next(_stack_numbers)}"
    secret = secretsmanager.create_secret(
        Name=f"{prefix}-retarus",
        SecretString=json.dumps({"user": simulator.user, "password": simulator.password}),
    )
    stack = provision(
        endpoint_url=moto_endpoint,
        region=REGION,
        name_prefix=prefix,
        # A request that could not be sent comes straight back: a test's next delivery takes it.
        # The tests of the delays themselves set RETRY_DELAYS_SECONDS on the handler.
        parameters={
            "RetarusSecretArn": secret["ARN"],
            "RetarusBaseUrl": simulator.base_url,
            "RetryDelaysSeconds": "0",
            **parameters,
        },
    )
    sqs = boto3.client("sqs", region_name=REGION)
    sns = boto3.client("sns", region_name=REGION)
    subscriber = sqs.create_queue(QueueName=f"{prefix}-outcomes-subscriber")["QueueUrl"]
    subscriber_arn = sqs.get_queue_attributes(QueueUrl=subscriber, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=stack.output("OutcomesTopicArn"),
        Protocol="sqs",
        Endpoint=subscriber_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    return Pipeline(
        stack=stack,
        simulator=simulator,
        sqs=sqs,
        sns=sns,
        dynamodb=boto3.client("dynamodb", region_name=REGION),
        outcomes_queue_url=subscriber,
        # Short client timeouts keep the "no answer" cases quick.
        env={"RETARUS_READ_TIMEOUT": "1.0", "RETARUS_CONNECT_TIMEOUT": "1.0"},
    )
