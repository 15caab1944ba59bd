"""What SAM makes of template.yaml (samtranslator, the library behind `sam build`/`sam deploy` and
cfn-lint), checked for what only shows in a real account: a second stack, producers that reach the
queue through SNS, alarms that notify someone, a status run that Lambda does not retry, logs that
expire and leave with the stack."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from samtranslator.parser import parser
from samtranslator.translator.translator import Translator

from local.stack import load_template

REQUIRED = {"RetarusSecretArn": "arn:aws:secretsmanager:eu-central-1:123456789012:secret:retarus"}
WITH_FALLBACK = {
    **REQUIRED,
    "FallbackProvider": "aws-sms",
    "FallbackOriginationIdentity": "arn:aws:sms-voice:eu-central-1:123456789012:phone-number/phone-0123abcd",
}


def _translated(parameters: dict[str, str]) -> dict[str, Any]:
    template = load_template()
    for resource in template["Resources"].values():  # sam build would put the uploaded code here
        for key in ("CodeUri", "ContentUri"):
            if key in resource.get("Properties", {}):
                resource["Properties"][key] = "s3://bucket/key"
    session = boto3.session.Session(region_name="eu-central-1")
    translated: dict[str, Any] = Translator(
        managed_policy_map={}, sam_parser=parser.Parser(), boto_session=session
    ).translate(sam_template=template, parameter_values=parameters)
    return translated


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    """The translated resources, less the fallback provider's (FallbackProvider none, the default)."""
    translated: dict[str, Any] = _translated(REQUIRED)["Resources"]
    return {
        name: _without_fallback(resource)
        for name, resource in translated.items()
        if resource.get("Condition") != "HasFallbackProvider"
    }


def _without_fallback(node: Any) -> Any:
    """`node` with every `Fn::If [HasFallbackProvider, ...]` resolved as FallbackProvider none does."""
    if isinstance(node, dict):
        if set(node) == {"Fn::If"} and node["Fn::If"][0] == "HasFallbackProvider":
            return _without_fallback(node["Fn::If"][2])
        return {key: _without_fallback(value) for key, value in node.items()}
    if isinstance(node, list):
        kept = [_without_fallback(item) for item in node]
        return [item for item in kept if item != {"Ref": "AWS::NoValue"}]
    return node


def of_type(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    return {name: resource for name, resource in resources.items() if resource["Type"] == kind}


def test_a_second_stack_in_the_same_account_and_region_has_names_of_its_own(resources: dict[str, Any]) -> None:
    """SAM names a ScheduleV2 schedule after its logical id unless OmitName is set (SAM #3109)."""
    [schedule] = of_type(resources, "AWS::Scheduler::Schedule").values()
    assert "Name" not in schedule["Properties"]
    named = {
        "AWS::Lambda::LayerVersion": "LayerName",
        "AWS::Logs::LogGroup": "LogGroupName",
        "AWS::CloudWatch::Dashboard": "DashboardName",
    }
    for kind, key in named.items():
        for name, resource in of_type(resources, kind).items():
            assert "${AWS::StackName}" in json.dumps(resource["Properties"][key]), name


def test_sns_topics_of_this_and_the_producer_accounts_may_send_to_the_queue(resources: dict[str, Any]) -> None:
    [policy] = of_type(resources, "AWS::SQS::QueuePolicy").values()
    assert policy["Properties"]["Queues"] == [{"Ref": "RequestQueue"}]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    [from_sns] = [s for s in statements if isinstance(s, dict) and s.get("Sid") == "ProducerTopics"]
    assert from_sns["Principal"] == {"Service": "sns.amazonaws.com"} and from_sns["Action"] == "sqs:SendMessage"
    assert "aws:SourceAccount" in from_sns["Condition"]["StringEquals"]  # no confused deputy
    [accounts] = [s for s in statements if "Fn::If" in s]
    assert accounts["Fn::If"][0] == "HasProducerAccounts"


def test_consumer_accounts_may_subscribe_to_the_outcomes_topic(resources: dict[str, Any]) -> None:
    [policy] = of_type(resources, "AWS::SNS::TopicPolicy").values()
    assert policy["Condition"] == "HasConsumerAccounts"
    [consumers] = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Sid"] == "ConsumerAccounts"]
    assert "sns:Subscribe" in consumers["Action"] and consumers["Principal"] == {"AWS": {"Ref": "ConsumerAccountIds"}}


def test_every_alarm_notifies_the_alarms_topic(resources: dict[str, Any]) -> None:
    alarms = of_type(resources, "AWS::CloudWatch::Alarm")
    assert len(alarms) >= 7
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmsTopic"}], name
        assert alarm["Properties"]["OKActions"] == [{"Ref": "AlarmsTopic"}], name
    topic = resources["AlarmsTopic"].get("Properties", {})
    assert "KmsMasterKeyId" not in topic  # CloudWatch cannot publish to a topic under alias/aws/sns
    assert resources["AlarmsEmailSubscription"]["Condition"] == "HasAlarmEmail"


def test_lambda_does_not_retry_a_failed_status_run(resources: dict[str, Any]) -> None:
    [config] = of_type(resources, "AWS::Lambda::EventInvokeConfig").values()
    assert config["Properties"]["FunctionName"] == {"Ref": "StatusFunction"}
    assert config["Properties"]["MaximumRetryAttempts"] == 0
    assert config["Properties"]["MaximumEventAgeInSeconds"] <= 60


def test_logs_expire_and_leave_with_the_stack(resources: dict[str, Any]) -> None:
    groups = of_type(resources, "AWS::Logs::LogGroup")
    assert set(groups) == {"SendFunctionLogGroup", "StatusFunctionLogGroup"}
    for name, group in groups.items():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        assert group["DeletionPolicy"] == "Delete", name
    for function in ("SendFunction", "StatusFunction"):
        logging_config = resources[function]["Properties"]["LoggingConfig"]
        assert logging_config == {"LogGroup": {"Ref": f"{function}LogGroup"}}
    [layer] = of_type(resources, "AWS::Lambda::LayerVersion").values()
    assert layer["DeletionPolicy"] == "Delete"


def test_queues_keep_their_requests_when_the_stack_goes(resources: dict[str, Any]) -> None:
    for name in ("RequestQueue", "RequestDeadLetterQueue"):
        assert resources[name]["DeletionPolicy"] == "Retain"


def test_a_secret_under_a_customer_key_can_be_read(resources: dict[str, Any]) -> None:
    for function in ("SendFunction", "StatusFunction"):
        policies = resources[f"{function}Role"]["Properties"]["Policies"]
        [conditional] = [policy["Fn::If"] for policy in policies if "Fn::If" in policy]
        assert conditional[0] == "HasSecretKmsKey"
        [statement] = conditional[1]["PolicyDocument"]["Statement"]
        assert statement["Action"] == ["kms:Decrypt"] and statement["Resource"] == {"Ref": "SecretKmsKeyArn"}


def test_the_dashboard_shows_what_an_operator_looks_at(resources: dict[str, Any]) -> None:
    [dashboard] = of_type(resources, "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for metric in (
        "NumberOfMessagesSent",
        "SmsSent",
        "OutcomeDelivered",
        "RequestsExpired",
        "SegmentsSent",
        "ApproximateNumberOfMessagesVisible",
        "StatusLagSeconds",
        "Errors",
        "Duration",
    ):
        assert metric in body, metric


# --- FallbackProvider (contract §12): none changes nothing ------------------------------------

# The stack's resources without a fallback provider, as the template had them before there was one:
# with FallbackProvider none, a deployment must get exactly these, and no other.
RESOURCES_WITHOUT_FALLBACK = {
    "AlarmsTopic": "AWS::SNS::Topic",
    "CountersTable": "AWS::DynamoDB::Table",  # the protection rules (contract §10)
    "OptOutTable": "AWS::DynamoDB::Table",
    "AuthFailuresAlarm": "AWS::CloudWatch::Alarm",
    "CheckDeadLetterAlarm": "AWS::CloudWatch::Alarm",
    "CheckDeadLetterQueue": "AWS::SQS::Queue",
    "CheckQueue": "AWS::SQS::Queue",
    "Dashboard": "AWS::CloudWatch::Dashboard",
    "DeadLetterAlarm": "AWS::CloudWatch::Alarm",
    "JobsTable": "AWS::DynamoDB::Table",
    "OutcomesTopic": "AWS::SNS::Topic",
    "PublishFailuresAlarm": "AWS::CloudWatch::Alarm",
    "RequestDeadLetterQueue": "AWS::SQS::Queue",
    "RequestQueue": "AWS::SQS::Queue",
    "RequestQueuePolicy": "AWS::SQS::QueuePolicy",
    "SendErrorsAlarm": "AWS::CloudWatch::Alarm",
    "SendFunction": "AWS::Lambda::Function",
    "SendFunctionErrorsAlarm": "AWS::CloudWatch::Alarm",
    "SendFunctionLogGroup": "AWS::Logs::LogGroup",
    "SendFunctionRequests": "AWS::Lambda::EventSourceMapping",
    "SendFunctionRole": "AWS::IAM::Role",
    "SharedLayer": "AWS::Lambda::LayerVersion",
    "StatusFunction": "AWS::Lambda::Function",
    "StatusFunctionChecks": "AWS::Lambda::EventSourceMapping",
    "StatusFunctionErrorsAlarm": "AWS::CloudWatch::Alarm",
    "StatusFunctionEventInvokeConfig": "AWS::Lambda::EventInvokeConfig",
    "StatusFunctionLogGroup": "AWS::Logs::LogGroup",
    "StatusFunctionRole": "AWS::IAM::Role",
    "StatusFunctionSchedule": "AWS::Scheduler::Schedule",
    "StatusFunctionScheduleRole": "AWS::IAM::Role",
    "StatusLagAlarm": "AWS::CloudWatch::Alarm",
}
FALLBACK_RESOURCES = {
    "FallbackEventsKey": "AWS::KMS::Key",
    "FallbackEventsTopic": "AWS::SNS::Topic",
    "FallbackEventsTopicPolicy": "AWS::SNS::TopicPolicy",
    "FallbackConfigurationSet": "AWS::SMSVOICE::ConfigurationSet",
    "FallbackEventsDeadLetterQueue": "AWS::SQS::Queue",
    "FallbackEventsQueue": "AWS::SQS::Queue",
    "FallbackEventsQueuePolicy": "AWS::SQS::QueuePolicy",
    "FallbackEventsSubscription": "AWS::SNS::Subscription",
    "FailoverSendsAlarm": "AWS::CloudWatch::Alarm",
    "FallbackEventsDeadLetterAlarm": "AWS::CloudWatch::Alarm",
    "FallbackEventsFunction": "AWS::Lambda::Function",
    "FallbackEventsFunctionRole": "AWS::IAM::Role",
    "FallbackEventsFunctionDeliveryEvents": "AWS::Lambda::EventSourceMapping",
    "FallbackEventsFunctionLogGroup": "AWS::Logs::LogGroup",
}


class _Deployment:
    """What CloudFormation makes of a translated template for given parameters: its conditions
    evaluated, the resources they leave, and Fn::If resolved (enough of the intrinsics for this
    template's conditions)."""

    def __init__(self, template: dict[str, Any], parameters: dict[str, str]) -> None:
        self.template = template
        self.values: dict[str, Any] = {}
        for name, spec in template["Parameters"].items():
            raw = parameters.get(name, spec.get("Default"))
            self.values[name] = str(raw).split(",") if spec["Type"] == "CommaDelimitedList" else raw
        self.conditions = {name: self.truth(spec) for name, spec in template.get("Conditions", {}).items()}

    def truth(self, node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            [(key, argument)] = node.items()
            if key == "Ref" and argument in self.values:
                return self.values[argument]
            if key == "Condition":
                return self.truth(self.template["Conditions"][argument])
            if key == "Fn::Equals":
                return self.truth(argument[0]) == self.truth(argument[1])
            if key == "Fn::Not":
                return not self.truth(argument[0])
            if key == "Fn::Join":
                return argument[0].join(str(part) for part in self.truth(argument[1]))
            if key == "Fn::Split":
                return str(self.truth(argument[1])).split(argument[0])
        if isinstance(node, list):
            flat: list[Any] = []
            for item in node:
                value = self.truth(item)
                flat += value if isinstance(value, list) else [value]
            return flat
        return node

    def resources(self) -> dict[str, Any]:
        return {
            name: self.resolve(resource)
            for name, resource in self.template["Resources"].items()
            if "Condition" not in resource or self.conditions[resource["Condition"]]
        }

    def resolve(self, node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) == {"Fn::If"}:
                condition, then, otherwise = node["Fn::If"]
                return self.resolve(then if self.conditions[condition] else otherwise)
            return {key: self.resolve(value) for key, value in node.items() if value != {"Ref": "AWS::NoValue"}}
        if isinstance(node, list):
            return [self.resolve(item) for item in node if self.resolve(item) != {"Ref": "AWS::NoValue"}]
        return node


def _layerless(name: str) -> str:
    return "SharedLayer" if name.startswith("SharedLayer") else name


def test_without_a_fallback_provider_the_stack_has_exactly_the_resources_it_had_before() -> None:
    deployed = _Deployment(_translated(REQUIRED), REQUIRED).resources()
    assert {_layerless(name): resource["Type"] for name, resource in deployed.items()} == RESOURCES_WITHOUT_FALLBACK
    assert "sms-voice" not in json.dumps(deployed)


def test_with_the_fallback_provider_the_stack_adds_its_resources_and_only_those() -> None:
    deployed = _Deployment(_translated(WITH_FALLBACK), WITH_FALLBACK).resources()
    kinds = {_layerless(name): resource["Type"] for name, resource in deployed.items()}
    assert kinds == {**RESOURCES_WITHOUT_FALLBACK, **FALLBACK_RESOURCES}


def _send_text_message_statements(deployed: dict[str, Any]) -> list[Any]:
    return [
        statement
        for policy in deployed["SendFunctionRole"]["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
        if "sms-voice" in json.dumps(statement)
    ]


def test_only_the_send_function_may_send_through_the_fallback_and_only_from_its_identity() -> None:
    deployed = _Deployment(_translated(WITH_FALLBACK), WITH_FALLBACK).resources()
    statements = _send_text_message_statements(deployed)
    assert statements == [
        {
            "Effect": "Allow",
            "Action": ["sms-voice:SendTextMessage"],
            "Resource": [
                {
                    "Fn::Sub": [
                        "arn:${AWS::Partition}:sms-voice:${AWS::Region}:${AWS::AccountId}:${Identity}",
                        {"Identity": {"Fn::Select": [5, {"Fn::Split": [":", {"Ref": "FallbackOriginationIdentity"}]}]}},
                    ]
                },
                {"Fn::GetAtt": ["FallbackConfigurationSet", "Arn"]},
            ],
        }
    ]
    assert "sms-voice:" not in json.dumps(deployed["StatusFunctionRole"])
    # The rebuilt ARN is the parameter's, for each kind of identity the parameter allows.
    index = statements[0]["Resource"][0]["Fn::Sub"][1]["Identity"]["Fn::Select"][0]
    for identity in ("phone-number/phone-0123abcd", "sender-id/ACME/DE", "pool/pool-0123abcd"):
        arn = f"arn:aws:sms-voice:eu-central-1:123456789012:{identity}"
        assert f"arn:aws:sms-voice:eu-central-1:123456789012:{arn.split(':')[index]}" == arn


@pytest.mark.parametrize("identity", ["+15551234567", "MyBrand", "pool-0123abcd", "phone-0123abcd"])
def test_an_identity_not_given_by_arn_may_be_any_phone_number_sender_id_or_pool_of_the_account(
    identity: str,
) -> None:
    """Contract §12: the phone number, sender id or pool to send from. IAM matches SendTextMessage
    against the identity's ARN, which the template cannot build from a number or a sender id."""
    parameters = {**WITH_FALLBACK, "FallbackOriginationIdentity": identity}
    deployed = _Deployment(_translated(parameters), parameters).resources()
    here = "arn:${AWS::Partition}:sms-voice:${AWS::Region}:${AWS::AccountId}:"
    assert _send_text_message_statements(deployed) == [
        {
            "Effect": "Allow",
            "Action": ["sms-voice:SendTextMessage"],
            "Resource": [
                {"Fn::Sub": here + "phone-number/*"},
                {"Fn::Sub": here + "sender-id/*"},
                {"Fn::Sub": here + "pool/*"},
                {"Fn::GetAtt": ["FallbackConfigurationSet", "Arn"]},
            ],
        }
    ]
