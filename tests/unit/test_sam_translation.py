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


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    template = load_template()
    for resource in template["Resources"].values():  # sam build would put the uploaded code here
        for key in ("CodeUri", "ContentUri"):
            if key in resource.get("Properties", {}):
                resource["Properties"][key] = "s3://bucket/key"
    session = boto3.session.Session(region_name="eu-central-1")
    translated = Translator(managed_policy_map={}, sam_parser=parser.Parser(), boto_session=session).translate(
        sam_template=template,
        parameter_values={"RetarusSecretArn": "arn:aws:secretsmanager:eu-central-1:123456789012:secret:retarus"},
    )
    found: dict[str, Any] = translated["Resources"]
    return found


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
