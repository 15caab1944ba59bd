"""Every AWS call a function makes is one its role in template.yaml allows.

moto does not check IAM, so a call that a function's policy lacks passes every other test and
fails only in AWS, with AccessDenied. Here each function goes through its paths while botocore
reports every call it makes, and each call, action and resource, is matched against that
function's policy statements.
"""

from __future__ import annotations

import fnmatch
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from sms_pipeline.job import Origin
from sms_pipeline.protection_store import DynamoOptOuts
from support import Pipeline, aws_hook, policy_statements

FAST = {"STATUS_CHECK_DELAYS_SECONDS": "0"}
# IAM actions not named after their API operation
ACTION = {
    "sns:PublishBatch": "sns:Publish",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    "sqs:SendMessageBatch": "sqs:SendMessage",
}
# TransactWriteItems is allowed by the actions of its items
TRANSACT_ACTION = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}
CHECK_QUEUE = str({"Fn::GetAtt": ["CheckQueue", "Arn"]})
TABLE = str({"Fn::GetAtt": ["JobsTable", "Arn"]})
INDEX = str({"Fn::Sub": "${JobsTable.Arn}/index/due"})
RESOURCE = {
    "sns": str({"Ref": "OutcomesTopic"}),
    "secretsmanager": str({"Ref": "RetarusSecretArn"}),
    "sqs": str({"Fn::GetAtt": ["RequestQueue", "Arn"]}),
}


def _in_seconds(seconds: float) -> str:
    return datetime.fromtimestamp(time.time() + seconds, tz=UTC).isoformat()


def allowed(function: str) -> set[tuple[str, str]]:
    pairs: set[tuple[str, str]] = set()
    for statement in policy_statements(function):
        assert statement["Effect"] == "Allow"
        pairs |= {(action, str(statement["Resource"])) for action in statement["Action"]}
    return pairs


def calls_of(pipeline: Pipeline, run: Callable[[], None]) -> set[tuple[str, str]]:
    """(IAM action, the template's name of the resource) of every AWS call made while `run` runs."""
    calls: set[tuple[str, str]] = set()
    tables = {  # each table of the template by its physical name
        resource.ref: str({"Fn::GetAtt": [logical_id, "Arn"]})
        for logical_id, resource in pipeline.stack.resources.items()
        if resource.type == "AWS::DynamoDB::Table"
    }
    queues = {  # and each queue by its URL
        resource.ref: str({"Fn::GetAtt": [logical_id, "Arn"]})
        for logical_id, resource in pipeline.stack.resources.items()
        if resource.type == "AWS::SQS::Queue"
    }

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        service = model.service_model.signing_name
        action = ACTION.get(f"{service}:{model.name}", f"{service}:{model.name}")
        if service == "dynamodb" and "TransactItems" in params:  # IAM allows each item's own operation
            for item in params["TransactItems"]:
                [(operation, write)] = item.items()
                calls.add((TRANSACT_ACTION[operation], tables[write["TableName"]]))
        elif service == "dynamodb":
            for table in [params["TableName"]] if "TableName" in params else params["RequestItems"]:
                calls.add((action, INDEX if "IndexName" in params else tables[table]))
        elif service == "sqs":
            calls.add((action, queues[params["QueueUrl"]]))
        else:
            calls.add((action, RESOURCE[service]))

    with aws_hook("before-parameter-build", handler=record):
        run()
    return calls


def test_every_call_of_either_function_is_allowed_by_its_role(pipeline: Pipeline) -> None:
    topic = pipeline.stack.output("OutcomesTopicArn")
    DynamoOptOuts(pipeline.dynamodb, pipeline.stack.output("OptOutTableName")).add("+4917012345699")

    def sends() -> None:
        send = pipeline.handler("SendFunction", **FAST)
        pipeline.enqueue({"id": "ok", "to": "+4917012345677", "text": "x"})
        pipeline.enqueue({"id": "ok", "to": "+4917012345677", "text": "x"})  # a duplicate
        pipeline.enqueue({"id": "bad", "to": "+4917012345677", "text": ""})  # rejected and published
        while pipeline.deliver(send).received:
            pass
        # A rejection whose publish fails: the status function leases and publishes it later.
        broken = pipeline.handler("SendFunction", OUTCOMES_TOPIC_ARN=topic + "-gone")
        pipeline.enqueue({"id": "late", "to": "+4917012345677", "text": ""})
        pipeline.deliver(broken)
        # A request the provider cannot take (the simulator answers 500): it waits its retry delay.
        failing = pipeline.handler("SendFunction", RETRY_DELAYS_SECONDS="60")
        pipeline.enqueue({"id": "down", "to": "+4917012345650", "text": "x"})
        assert pipeline.deliver(failing).failed
        # A request scheduled a minute ahead, put back by the send function itself, then cancelled.
        pipeline.enqueue({"id": "soon", "to": "+4917012345677", "text": "x", "sendAt": _in_seconds(60)})
        pipeline.deliver(send)
        pipeline.enqueue({"cancel": "soon"})
        pipeline.deliver(send)
        # The protection rules (§10), every one on: a request sent, one the rate refuses (its
        # parts given back), one sent, one the day refuses (the rate read for the reason), one opted out.
        protected = pipeline.handler(
            "SendFunction", ALLOWED_DESTINATION_PREFIXES="+49", MAX_PER_NUMBER_PER_WINDOW="1", DAILY_SEGMENT_LIMIT="2"
        )
        for request_id, number in (("p1", "01"), ("p2", "01"), ("p3", "02"), ("p4", "03"), ("p5", "99")):
            pipeline.enqueue({"id": request_id, "to": f"+49170123456{number}", "text": "x"})
            pipeline.deliver(protected)
        # Two records of one batch: their rate windows written in one transaction.
        wider = pipeline.handler("SendFunction", MAX_PER_NUMBER_PER_WINDOW="5")
        pipeline.enqueue(*({"id": f"t{n}", "to": f"+4917012345{n}", "text": "x"} for n in (61, 62)))
        pipeline.deliver(wider)

    def checks() -> None:
        status = pipeline.handler("StatusFunction", **FAST)
        for _ in range(3):  # a check that finds nothing final, then the outcome, its publish, its record
            status({"source": "aws.scheduler"}, pipeline.context("StatusFunction"))

    def timed_send() -> None:  # a first check due in a second: its timer goes on the check queue
        pipeline.enqueue({"id": "timed", "to": "+4917012345677", "text": "x"})
        pipeline.deliver(pipeline.handler("SendFunction", STATUS_CHECK_DELAYS_SECONDS="1"))

    def timed_checks() -> None:  # the timer's check finds the job open and starts the next timer
        status = pipeline.handler("StatusFunction", STATUS_CHECK_DELAYS_SECONDS="1")
        assert pipeline.deliver_checks(status, wait_seconds=3).received == 1

    send_calls = calls_of(pipeline, sends) | calls_of(pipeline, timed_send)
    # A scheduled request due now: the status run puts it back on the request queue.
    origin = Origin("due", "+49170*****77", None, {}, time.time(), send_at=time.time() + 5)
    pipeline.job_store().schedule(origin, body="{}", due_at=time.time(), validity_seconds=300, now=time.time())
    status_calls = calls_of(pipeline, checks) | calls_of(pipeline, timed_checks)

    # every path was taken
    assert {event["id"] for event in pipeline.outcomes()} == {"ok", "bad", "late", "p2", "p4", "p5", "soon"}
    assert {action for action, _ in status_calls} >= {"dynamodb:Query", "dynamodb:BatchWriteItem", "sns:Publish"}
    assert ("sqs:ChangeMessageVisibility", RESOURCE["sqs"]) in send_calls
    assert ("sqs:SendMessage", RESOURCE["sqs"]) in send_calls and ("sqs:SendMessage", RESOURCE["sqs"]) in status_calls
    assert ("sqs:SendMessage", CHECK_QUEUE) in send_calls and ("sqs:SendMessage", CHECK_QUEUE) in status_calls
    assert ("dynamodb:BatchGetItem", TABLE) in status_calls
    assert send_calls <= allowed("SendFunction"), send_calls - allowed("SendFunction")
    assert status_calls <= allowed("StatusFunction"), status_calls - allowed("StatusFunction")


def test_every_call_of_the_fallback_events_function_is_allowed_by_its_role(fallback_pipeline: Pipeline) -> None:
    pipeline = fallback_pipeline
    assert pipeline.aws_sms is not None
    # Retarus refuses this number and the validity ends before the next retry: it fails over at once.
    pipeline.enqueue({"id": "fo", "to": "+4917012345650", "text": "x", "validitySeconds": 20})
    assert pipeline.deliver(pipeline.handler("SendFunction", RETRY_DELAYS_SECONDS="60")).failed == []
    assert pipeline.aws_sms.wait_for_events(2)

    def events() -> None:
        handler = pipeline.handler("FallbackEventsFunction")
        for _ in range(10):
            pipeline.deliver_events(handler)

    event_calls = calls_of(pipeline, events)
    assert [event["provider"] for event in pipeline.outcomes()] == ["aws-sms"]  # the path was taken
    assert {action for action, _ in event_calls} == {
        "dynamodb:BatchGetItem",
        "dynamodb:UpdateItem",
        "dynamodb:BatchWriteItem",
        "sns:Publish",
    }
    assert event_calls <= allowed("FallbackEventsFunction"), event_calls - allowed("FallbackEventsFunction")


# Each form of FallbackOriginationIdentity (contract §12: the phone number, sender id or pool to
# send from), with the ARN IAM matches SendTextMessage against when the call names it so. A phone
# number's ARN names the number's id and a sender id's its country: neither is in the call.
SMS_VOICE = "arn:aws:sms-voice:eu-central-1:123456789012:"
IDENTITIES = {
    SMS_VOICE + "phone-number/phone-0123abcd": SMS_VOICE + "phone-number/phone-0123abcd",
    SMS_VOICE + "sender-id/MyBrand/DE": SMS_VOICE + "sender-id/MyBrand/DE",
    SMS_VOICE + "pool/pool-0123abcd": SMS_VOICE + "pool/pool-0123abcd",
    "+15551234567": SMS_VOICE + "phone-number/phone-4567abcd",
    "phone-0123456789abcdef0123456789abcdef": SMS_VOICE + "phone-number/phone-0123456789abcdef0123456789abcdef",
    "MyBrand": SMS_VOICE + "sender-id/MyBrand/DE",
    "pool-0123456789abcdef0123456789abcdef": SMS_VOICE + "pool/pool-0123456789abcdef0123456789abcdef",
}


def _matches(pattern: str, arn: str) -> bool:
    """IAM's match of a Resource element: `*` any run of characters, `?` any one."""
    return fnmatch.fnmatchcase(arn, pattern)


@pytest.mark.parametrize("fallback_identity", list(IDENTITIES))
def test_the_fallback_may_send_from_its_identity_in_every_form(fallback_pipeline: Pipeline) -> None:
    pipeline = fallback_pipeline
    assert pipeline.aws_sms is not None
    identity = pipeline.stack.parameters["FallbackOriginationIdentity"]
    sent: list[dict[str, Any]] = []

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        if model.service_model.signing_name == "sms-voice":
            sent.append({"action": f"sms-voice:{model.name}", **params})

    with aws_hook("before-parameter-build", handler=record):
        # Retarus refuses this number and the validity ends before the next retry: it fails over at once.
        pipeline.enqueue({"id": "fo", "to": "+4917012345650", "text": "x", "validitySeconds": 20})
        assert pipeline.deliver(pipeline.handler("SendFunction", RETRY_DELAYS_SECONDS="60")).failed == []
    [call] = sent
    assert (call["action"], call["OriginationIdentity"]) == ("sms-voice:SendTextMessage", identity)
    assert pipeline.aws_sms.accepted[0].origination_identity == identity

    # The role's sms-voice statement, as CloudFormation resolves it for this stack.
    configuration_set = SMS_VOICE + "configuration-set/" + call["ConfigurationSetName"]
    [statement] = [s for s in policy_statements("SendFunction", conditional=True) if "sms-voice" in str(s)]
    # (the configuration set is not created locally: its ARN as AWS gives it)
    text = json.dumps(statement).replace(
        json.dumps({"Fn::GetAtt": ["FallbackConfigurationSet", "Arn"]}), json.dumps(configuration_set)
    )
    resolved = pipeline.stack.resolve(json.loads(text))
    assert resolved["Action"] == ["sms-voice:SendTextMessage"]
    resources = resolved["Resource"]
    assert any(_matches(resource, IDENTITIES[identity]) for resource in resources), resources
    assert any(_matches(resource, configuration_set) for resource in resources), resources
    if identity.startswith("arn:"):  # exactly that identity, and its configuration set
        assert resources == [identity, configuration_set]
    else:  # any phone number, sender id or pool of this account and region, none of another
        kinds = [SMS_VOICE + kind + "/*" for kind in ("phone-number", "sender-id", "pool")]
        assert resources == [*kinds, configuration_set]
        assert not any(
            _matches(resource, IDENTITIES[identity].replace("123456789012", "210987654321")) for resource in resources
        )
