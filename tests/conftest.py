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
from moto.server import ThreadedMotoServer

from local.simulator import RetarusSimulator
from local.stack import provision
from support import REGION, Pipeline

_stack_numbers = itertools.count()

# As the template sets it, before the first import of the layer's observability module.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "sms-pipeline")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "SmsPipeline")
logging.getLogger("werkzeug").setLevel(logging.WARNING)


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


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
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
    with RetarusSimulator(user="sim-user", password="s3cr3t&pass=word?") as sim:
        yield sim


@pytest.fixture
def pipeline(moto_endpoint: str, simulator: RetarusSimulator) -> Pipeline:
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
        parameters={"RetarusSecretArn": secret["ARN"], "RetarusBaseUrl": simulator.base_url},
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
        # Short client timeouts keep the "no answer" cases quick; the secret is re-read every time.
        env={"RETARUS_READ_TIMEOUT": "1.0", "RETARUS_CONNECT_TIMEOUT": "1.0"},
    )
