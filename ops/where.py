"""Where a deployment's queue, topic, tables and dead-letter queue are: a stack's outputs, or given
one by one (flags, then the environment). The endpoint and region come as boto3 reads them
(AWS_ENDPOINT_URL, AWS_REGION), so the same commands work on a deployed stack and on the local
moto one."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError


class OperatorError(Exception):
    """Something the operator must fix (a stack name, credentials, an endpoint); says what."""

    exit_code = 3


class NotFound(Exception):
    """What was asked for is not there (an id, a message)."""

    exit_code = 1


OUTPUTS = {
    "queue_url": "RequestQueueUrl",
    "topic_arn": "OutcomesTopicArn",
    "table": "JobsTableName",
    "dlq_url": "DeadLetterQueueUrl",
    "opt_out_table": "OptOutTableName",
}
ENVIRONMENT = {
    "queue_url": "SMS_QUEUE_URL",
    "topic_arn": "SMS_TOPIC_ARN",
    "table": "SMS_TABLE",
    "dlq_url": "SMS_DLQ_URL",
    "opt_out_table": "SMS_OPT_OUT_TABLE",
}
FLAGS = {
    "queue_url": "--queue-url",
    "topic_arn": "--topic-arn",
    "table": "--table",
    "dlq_url": "--dlq-url",
    "opt_out_table": "--opt-out-table",
}


@dataclass
class Where:
    session: Any  # boto3.session.Session
    given: dict[str, str]
    stack: str | None

    def client(self, service: str) -> Any:
        return call(lambda: self.session.client(service))

    def need(self, what: str) -> str:
        """The resource, or an OperatorError that says how to name it."""
        value = self.given.get(what)
        if value:
            return value
        if what == "dlq_url" and self.given.get("queue_url"):
            return self._dead_letter_queue()
        raise OperatorError(
            f"no {OUTPUTS[what]}: give --stack NAME (or SMS_STACK), or {FLAGS[what]} (or {ENVIRONMENT[what]})"
        )

    def _dead_letter_queue(self) -> str:
        """The request queue's redrive target, when no DLQ is named."""
        sqs = self.client("sqs")
        attributes = call(
            lambda: sqs.get_queue_attributes(QueueUrl=self.given["queue_url"], AttributeNames=["RedrivePolicy"])
        )
        policy = attributes.get("Attributes", {}).get("RedrivePolicy")
        if not policy:
            raise OperatorError("the request queue has no redrive policy: give --dlq-url (or SMS_DLQ_URL)")
        name = json.loads(policy)["deadLetterTargetArn"].rsplit(":", 1)[-1]
        url: str = call(lambda: sqs.get_queue_url(QueueName=name))["QueueUrl"]
        self.given["dlq_url"] = url
        return url


def resolve(session: Any, flags: Mapping[str, str | None], environ: Mapping[str, str]) -> Where:
    stack = flags.get("stack") or environ.get("SMS_STACK")
    given = {what: flags.get(what) or environ.get(ENVIRONMENT[what], "") for what in OUTPUTS}
    if stack and not all(given.values()):
        outputs = _outputs(session, stack)
        for what, output in OUTPUTS.items():
            given[what] = given[what] or outputs.get(output, "")
    return Where(session=session, given={key: value for key, value in given.items() if value}, stack=stack)


def _outputs(session: Any, stack: str) -> dict[str, str]:
    cloudformation = call(lambda: session.client("cloudformation"))
    try:
        described = call(lambda: cloudformation.describe_stacks(StackName=stack))
    except OperatorError as error:
        if "does not exist" in str(error):
            region = session.region_name or "(no region)"
            raise OperatorError(
                f"no stack named {stack!r} in {region}: check --stack (or SMS_STACK) and AWS_REGION"
            ) from None
        raise
    return {output["OutputKey"]: output["OutputValue"] for output in described["Stacks"][0].get("Outputs", [])}


def call(operation: Any) -> Any:
    """An AWS call whose failure is the operator's to fix, said plainly."""
    try:
        return operation()
    except NoRegionError:
        raise OperatorError("no AWS region: set AWS_DEFAULT_REGION (or AWS_REGION, or a profile's region)") from None
    except NoCredentialsError:
        raise OperatorError(
            "no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        ) from None
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", "")
        if code in ("UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken", "AccessDenied"):
            raise OperatorError(f"AWS refused the credentials ({code}): {message}") from None
        raise OperatorError(f"{error.operation_name} failed ({code}): {message}") from None
    except BotoCoreError as error:  # an endpoint that does not answer, a bad URL
        raise OperatorError(f"cannot reach AWS: {error} (check AWS_ENDPOINT_URL and your network)") from None
