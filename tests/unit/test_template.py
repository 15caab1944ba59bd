"""What the template promises a deployment: wiring, least privilege, alarms, the §6 parameters."""

from __future__ import annotations

import math
from typing import Any

import pytest

from local.stack import load_template
from sms_pipeline.request import CONTRACT_DEFAULTS, MAX_VALIDITY_SECONDS, Defaults
from sms_pipeline.retry import JITTER
from support import policy_statements

TEMPLATE = load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]


def test_contract_parameters_and_defaults() -> None:
    parameters = TEMPLATE["Parameters"]
    assert parameters["RetarusBaseUrl"]["Default"] == "https://sms4a.retarus.com/httpsimple/v1"
    assert "Default" not in parameters["RetarusSecretArn"]
    assert parameters["StatusCheckDelaysSeconds"]["Default"] == "30,60,120,300,600,1800,3600"
    assert parameters["TrackingLimitMinutes"]["Default"] == 4320
    assert parameters["ResendUnconfirmed"]["Default"] == "false"
    assert parameters["DefaultValiditySeconds"]["Default"] == 14400
    assert parameters["RetryDelaysSeconds"]["Default"] == "10,30,60,120,300,600,900"
    assert parameters["MaxSegments"]["Default"] == 10 and parameters["SmartEncoding"]["Default"] == "false"
    # §10: every protection rule is off by default.
    assert parameters["AllowedDestinationPrefixes"]["Default"] == ""
    assert parameters["MaxPerNumberPerWindow"]["Default"] == 0
    assert parameters["NumberWindowSeconds"]["Default"] == 3600
    assert parameters["DailySegmentLimit"]["Default"] == 0
    # What parsing assumes when no deployment is given (local tools) is the template's default.
    assert (
        Defaults(
            max_segments=parameters["MaxSegments"]["Default"],
            smart_encoding=parameters["SmartEncoding"]["Default"] == "true",
        )
        == CONTRACT_DEFAULTS
    )


def _receives_to_outlast(delays: list[int], seconds: int) -> int:
    """Receives of a request whose attempts all fail, while its retries span `seconds`, with every
    delay at its shortest (all the jitter taken off), plus the receive that ends it EXPIRED."""
    waited, receives = 0, 0
    while waited < seconds:
        receives += 1
        waited += math.ceil(delays[min(receives, len(delays)) - 1] * (1 - JITTER))
    return receives + 1


def test_a_request_of_the_longest_validity_outlasts_an_outage_without_reaching_the_dlq() -> None:
    """Contract §8: the DLQ is for poison only. With the default delays, a request that may wait 4
    days is received about once per delay; maxReceiveCount must be above that, with room for the
    receives that are not a retry delay (a crashed or throttled invocation)."""
    delays = [int(part) for part in TEMPLATE["Parameters"]["RetryDelaysSeconds"]["Default"].split(",")]
    receives = _receives_to_outlast(delays, MAX_VALIDITY_SECONDS)
    assert receives == 486
    queue = RESOURCES["RequestQueue"]["Properties"]
    assert receives * 1.2 <= queue["RedrivePolicy"]["maxReceiveCount"] <= 1000  # 1000: SQS's limit
    # The message outlives its validity, and a record that fails every time reaches the DLQ long
    # before the queue would drop it; the DLQ keeps a moved message's first enqueue time.
    poison_hours = queue["RedrivePolicy"]["maxReceiveCount"] * queue["VisibilityTimeout"] / 3600
    assert queue["MessageRetentionPeriod"] > MAX_VALIDITY_SECONDS + max(delays)
    assert queue["MessageRetentionPeriod"] > poison_hours * 3600
    dlq = RESOURCES["RequestDeadLetterQueue"]["Properties"]
    assert dlq["MessageRetentionPeriod"] > queue["MessageRetentionPeriod"]


def test_queue_has_a_dlq_and_a_visibility_timeout_sized_to_the_function() -> None:
    queue = RESOURCES["RequestQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["RequestDeadLetterQueue", "Arn"]}
    assert queue["VisibilityTimeout"] >= 6 * RESOURCES["SendFunction"]["Properties"]["Timeout"]


def test_send_function_reports_partial_batch_failures_with_bounded_concurrency() -> None:
    event = RESOURCES["SendFunction"]["Properties"]["Events"]["Requests"]
    assert event["Type"] == "SQS"
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert event["Properties"]["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "SendMaxConcurrency"}


def test_status_function_runs_on_a_schedule() -> None:
    event = RESOURCES["StatusFunction"]["Properties"]["Events"]["Schedule"]
    assert event["Type"] in ("Schedule", "ScheduleV2")
    assert event["Properties"]["ScheduleExpression"] == {"Ref": "StatusScheduleRate"}


@pytest.mark.parametrize(
    ("function", "allowed"),
    [
        ("SendFunction", {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "sns:Publish",
                          "secretsmanager:GetSecretValue", "sqs:ChangeMessageVisibility"}),
        ("StatusFunction", {"dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem", "sns:Publish",
                            "secretsmanager:GetSecretValue"}),
    ],
)  # fmt: skip
def test_each_function_gets_only_the_actions_it_uses_on_its_own_resources(function: str, allowed: set[str]) -> None:
    own = {
        str({"Fn::GetAtt": ["JobsTable", "Arn"]}),
        str({"Fn::GetAtt": ["OptOutTable", "Arn"]}),  # the send function's, for the protection rules
        str({"Fn::GetAtt": ["CountersTable", "Arn"]}),
        str({"Fn::Sub": "${JobsTable.Arn}/index/due"}),
        str({"Ref": "OutcomesTopic"}),
        str({"Ref": "RetarusSecretArn"}),
    }
    actions: set[str] = set()
    for statement in policy_statements(function):
        assert statement["Effect"] == "Allow"
        assert "*" not in str(statement["Action"]) and statement["Resource"] != "*"
        if statement["Action"] == ["sqs:ChangeMessageVisibility"]:  # the retry delays, on its own queue only
            assert statement["Resource"] == {"Fn::GetAtt": ["RequestQueue", "Arn"]} and function == "SendFunction"
        else:
            assert str(statement["Resource"]) in own
        actions |= set(statement["Action"])
    assert actions == allowed


def test_storage_and_messaging_are_encrypted_at_rest() -> None:
    assert RESOURCES["RequestQueue"]["Properties"]["SqsManagedSseEnabled"] is True
    assert RESOURCES["RequestDeadLetterQueue"]["Properties"]["SqsManagedSseEnabled"] is True
    assert RESOURCES["JobsTable"]["Properties"]["SSESpecification"]["SSEEnabled"] is True
    assert RESOURCES["OptOutTable"]["Properties"]["SSESpecification"]["SSEEnabled"] is True
    assert RESOURCES["CountersTable"]["Properties"]["SSESpecification"]["SSEEnabled"] is True
    assert RESOURCES["OutcomesTopic"]["Properties"]["KmsMasterKeyId"]


def test_alarms_cover_each_silent_failure() -> None:
    metrics = {
        resource["Properties"]["MetricName"]
        for resource in RESOURCES.values()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert {
        "ApproximateNumberOfMessagesVisible",
        "ProviderAuthFailures",
        "StatusLagSeconds",
        "Errors",
        "PublishFailures",
        "DailySegmentLimitUsed",  # §10: the day's parts past 80 % of DailySegmentLimit
    } <= metrics


def test_outputs() -> None:
    assert {"RequestQueueUrl", "OutcomesTopicArn", "JobsTableName", "OptOutTableName"} <= set(TEMPLATE["Outputs"])


def test_functions_read_resources_from_the_environment_the_template_sets() -> None:
    env = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert env["JOBS_TABLE_NAME"] == {"Ref": "JobsTable"}
    assert env["OUTCOMES_TOPIC_ARN"] == {"Ref": "OutcomesTopic"}
    assert env["RETARUS_SECRET_ARN"] == {"Ref": "RetarusSecretArn"}
    assert env["REQUEST_QUEUE_URL"] == {"Ref": "RequestQueue"}
    assert env["DEFAULT_VALIDITY_SECONDS"] == {"Ref": "DefaultValiditySeconds"}
    assert env["RETRY_DELAYS_SECONDS"] == {"Ref": "RetryDelaysSeconds"}
    assert env["OPT_OUT_TABLE_NAME"] == {"Ref": "OptOutTable"}
    assert env["COUNTERS_TABLE_NAME"] == {"Ref": "CountersTable"}
    assert env["ALLOWED_DESTINATION_PREFIXES"] == {"Ref": "AllowedDestinationPrefixes"}
    assert env["MAX_PER_NUMBER_PER_WINDOW"] == {"Ref": "MaxPerNumberPerWindow"}
    assert env["NUMBER_WINDOW_SECONDS"] == {"Ref": "NumberWindowSeconds"}
    assert env["DAILY_SEGMENT_LIMIT"] == {"Ref": "DailySegmentLimit"}


def test_counters_expire_and_the_day_alarm_watches_80_percent() -> None:
    """§10: counter items cannot grow the table without bound; the alarm fires past 80 %."""
    counters = RESOURCES["CountersTable"]["Properties"]
    assert counters["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    alarm = RESOURCES["DailySegmentLimitAlarm"]
    assert alarm["Condition"] == "HasDailySegmentLimit"
    assert alarm["Properties"]["Threshold"] == 80
    assert alarm["Properties"]["ComparisonOperator"] == "GreaterThanThreshold"
