"""What the template promises a deployment: wiring, least privilege, alarms, the §6 parameters."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from itertools import accumulate
from typing import Any

import pytest
from test_config import ENV as CONFIG_ENV
from test_config import FALLBACK as CONFIG_FALLBACK

from local.stack import load_template
from sms_pipeline.config import FALLBACK_PROVIDERS, ConfigError, Settings
from sms_pipeline.limits import MAX_VALIDITY_SECONDS
from sms_pipeline.request import CONTRACT_DEFAULTS, Defaults
from support import policy_statements

TEMPLATE = load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]


def test_contract_parameters_and_defaults() -> None:
    # These literals are the contract itself (§6 names each parameter's default): a change here is a
    # change of the product, not of the template.
    parameters = TEMPLATE["Parameters"]
    assert parameters["RetarusBaseUrl"]["Default"] == "https://sms4a.retarus.com/httpsimple/v1"
    assert "Default" not in parameters["RetarusSecretArn"]  # no silent default for a resource name
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


def test_the_send_batching_window_is_a_parameter_that_waits_for_nothing_by_default() -> None:
    """Contract §13: a request is sent at once unless the deployment chooses to wait. AWS accepts
    a window of 0 only for a batch of at most 10 (a larger batch size needs a window of 1 s or
    more), so the batch size and the parameter's least value must stay compatible."""
    parameter = TEMPLATE["Parameters"]["SendBatchingWindowSeconds"]
    assert parameter["Default"] == 0
    assert (parameter["MinValue"], parameter["MaxValue"]) == (0, 300)  # SQS event sources allow 0–300 s
    event = RESOURCES["SendFunction"]["Properties"]["Events"]["Requests"]["Properties"]
    assert event["MaximumBatchingWindowInSeconds"] == {"Ref": "SendBatchingWindowSeconds"}
    assert event["BatchSize"] <= 10


def _receives_to_outlast(delays: list[int], seconds: int) -> int:
    """Receives of a request whose attempts all fail, while its retries span `seconds`, each
    waiting exactly its delay, plus the receive that ends it EXPIRED."""
    waited, receives = 0, 0
    while waited < seconds:
        receives += 1
        waited += delays[min(receives, len(delays)) - 1]
    return receives + 1


def test_a_request_of_the_longest_validity_outlasts_an_outage_without_reaching_the_dlq() -> None:
    """Contract §8: the DLQ is for poison only. With the default delays, a request that may wait 4
    days is received about once per delay; maxReceiveCount must be above that, with room for the
    receives that are not a retry delay (a crashed or throttled invocation)."""
    delays = [int(part) for part in TEMPLATE["Parameters"]["RetryDelaysSeconds"]["Default"].split(",")]
    receives = _receives_to_outlast(delays, MAX_VALIDITY_SECONDS)
    # The count the DLQ is sized against is neither too small nor one too many: the waits of all the
    # retries but the last span the validity, those of one retry fewer do not; and a request waits
    # at most the longest delay between receives.
    waited = list(accumulate((delays[min(n, len(delays) - 1)] for n in range(receives - 1)), initial=0))
    assert waited[-2] < MAX_VALIDITY_SECONDS <= waited[-1]
    assert receives > MAX_VALIDITY_SECONDS / max(delays)
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
    # At least six times the function's timeout (AWS's advice for an SQS event source): Lambda has
    # time to retry a throttled invocation before the batch's messages are visible again.
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
        ("SendFunction", {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchGetItem",
                          "sns:Publish", "secretsmanager:GetSecretValue", "sqs:ChangeMessageVisibility",
                          "sqs:SendMessage"}),
        ("StatusFunction", {"dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem", "sns:Publish",
                            "secretsmanager:GetSecretValue", "dynamodb:BatchGetItem", "sqs:SendMessage"}),
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
        if all(action.startswith("sqs:") for action in statement["Action"]):
            if statement["Resource"] == {"Fn::GetAtt": ["CheckQueue", "Arn"]}:  # check timers
                assert statement["Action"] == ["sqs:SendMessage"]
            else:  # the retry delays (the send function's) and the put-back of scheduled requests (§11)
                assert statement["Resource"] == {"Fn::GetAtt": ["RequestQueue", "Arn"]}
                assert "sqs:ChangeMessageVisibility" not in statement["Action"] or function == "SendFunction"
        else:
            assert str(statement["Resource"]) in own
        actions |= set(statement["Action"])
    assert actions == allowed


def test_the_status_function_consumes_the_check_queue_at_once_with_its_own_concurrency() -> None:
    event = RESOURCES["StatusFunction"]["Properties"]["Events"]["Checks"]
    assert event["Type"] == "SQS" and event["Properties"]["Queue"] == {"Fn::GetAtt": ["CheckQueue", "Arn"]}
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert event["Properties"]["MaximumBatchingWindowInSeconds"] == 0  # a timer comes when it is due
    assert event["Properties"]["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "CheckMaxConcurrency"}
    assert TEMPLATE["Parameters"]["CheckMaxConcurrency"]["MinValue"] == 2  # AWS's minimum
    queue = RESOURCES["CheckQueue"]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * RESOURCES["StatusFunction"]["Properties"]["Timeout"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["CheckDeadLetterQueue", "Arn"]}
    assert queue["SqsManagedSseEnabled"] is True
    alarmed = {
        str(resource["Properties"].get("Dimensions"))
        for resource in RESOURCES.values()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert str([{"Name": "QueueName", "Value": {"Fn::GetAtt": ["CheckDeadLetterQueue", "QueueName"]}}]) in alarmed
    env = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert env["CHECK_QUEUE_URL"] == {"Ref": "CheckQueue"}
    assert env["CHECK_TIMER_MARGIN_SECONDS"] == {"Ref": "CheckTimerMarginSeconds"}


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


# What a Ref gives, by the type of the resource it names: the attribute a variable holding it ends in.
REF_GIVES = {"AWS::DynamoDB::Table": "NAME", "AWS::SNS::Topic": "ARN", "AWS::SQS::Queue": "URL"}


def _variable_named_after(target: str) -> str | None:
    """The variable that holds the Ref of this parameter or resource: MaxPerNumberPerWindow →
    MAX_PER_NUMBER_PER_WINDOW, JobsTable → JOBS_TABLE_NAME (None: no variable holds such a Ref)."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", target).upper()
    if target in TEMPLATE["Parameters"]:
        return snake
    gives = REF_GIVES.get(RESOURCES.get(target, {}).get("Type", ""))
    return f"{snake}_{gives}" if gives else None


def _environments() -> dict[str, dict[str, Any]]:
    """Each function's environment: the Globals' variables and its own."""
    shared = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    return {
        name: {**shared, **resource["Properties"].get("Environment", {}).get("Variables", {})}
        for name, resource in RESOURCES.items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


class _Reads(Mapping[str, str]):
    """An environment that notes every name read from it."""

    def __init__(self, values: dict[str, str]) -> None:
        self._values = values
        self.names: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.names.add(name)
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def _settings_read() -> set[str]:
    """Every variable the settings read (with a fallback provider, whose own are read only then)."""
    environ = _Reads({**CONFIG_ENV, **CONFIG_FALLBACK})
    Settings.from_env(environ)
    return environ.names


def _settings_needed() -> dict[str, str]:
    """Every variable the settings cannot do without, and the source their error names for it
    (config.py: "JOBS_TABLE_NAME is not set (it comes from the JobsTable resource in template.yaml)")."""
    sources: dict[str, str] = {}
    for environ in ({}, {"FALLBACK_PROVIDER": "aws-sms"}):  # the fallback's own are needed only with one
        with pytest.raises(ConfigError) as unset:
            Settings.from_env(environ)
        sources.update(re.findall(r"(\w+) is not set \(it comes from (.+?) in template\.yaml\)", str(unset.value)))
    return sources


def test_each_function_gets_its_settings_from_what_their_variables_are_named_after() -> None:
    """A variable that holds a Ref is named after what it refers to: a parameter in UPPER_SNAKE_CASE,
    a resource with the attribute its Ref gives (REF_GIVES). Every variable the settings need is set
    for every function, to the Ref of the parameter or resource their error names as its source;
    and no variable is set that the settings do not read (Powertools' own aside)."""
    read, needed = _settings_read(), _settings_needed()
    for function, env in _environments().items():
        ours = {name: value for name, value in env.items() if not name.startswith("POWERTOOLS_")}
        assert set(needed) <= set(ours), f"{function} lacks {sorted(set(needed) - set(ours))}"
        assert set(ours) <= read, f"{function} sets {sorted(set(ours) - read)}, which the settings do not read"
        for name, value in ours.items():
            if isinstance(value, dict) and "Ref" in value:
                assert name == _variable_named_after(value["Ref"]), f"{function}: {name} holds {value}"
        for name, source in needed.items():
            named = re.fullmatch(r"parameter (\w+)|the (\w+) resource", source)
            if named is None:  # no parameter's or resource's own value (DUE_INDEX_NAME)
                continue
            target = named[1] or named[2]
            assert target in TEMPLATE["Parameters"] or target in RESOURCES, f"{name}: no {source} in the template"
            if _variable_named_after(target) is not None:  # held by a Ref (FallbackConfigurationSet's name is not)
                assert (name, env[name]) == (_variable_named_after(target), {"Ref": target}), (
                    f"{function}: {name} is {env[name]}, from {source}"
                )


def test_counters_expire_and_the_day_alarm_watches_80_percent() -> None:
    """§10: counter items cannot grow the table without bound; the alarm fires past 80 %."""
    counters = RESOURCES["CountersTable"]["Properties"]
    assert counters["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    alarm = RESOURCES["DailySegmentLimitAlarm"]
    assert alarm["Condition"] == "HasDailySegmentLimit"
    assert alarm["Properties"]["Threshold"] == 80
    assert alarm["Properties"]["ComparisonOperator"] == "GreaterThanThreshold"


# --- FallbackProvider (contract §12) ------------------------------------------------------------

FALLBACK_ONLY = "HasFallbackProvider"


def test_fallback_parameters_and_defaults() -> None:
    parameters = TEMPLATE["Parameters"]
    assert parameters["FallbackProvider"]["Default"] == "none"
    assert parameters["FallbackProvider"]["AllowedValues"] == list(FALLBACK_PROVIDERS)
    assert parameters["FallbackOriginationIdentity"]["Default"] == ""
    assert parameters["FailoverAfterSeconds"]["Default"] == 60
    assert TEMPLATE["Conditions"][FALLBACK_ONLY] == {"Fn::Equals": [{"Ref": "FallbackProvider"}, "aws-sms"]}
    [assertion] = TEMPLATE["Rules"]["FallbackNeedsAnOriginationIdentity"]["Assertions"]
    assert assertion["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "FallbackOriginationIdentity"}, ""]}]}


@pytest.mark.parametrize(
    ("identity", "allowed"),
    [
        ("", True),
        ("arn:aws:sms-voice:eu-central-1:123456789012:phone-number/phone-0123abcd", True),
        ("arn:aws:sms-voice:eu-central-1:123456789012:sender-id/ACME/DE", True),
        ("arn:aws:sms-voice:eu-central-1:123456789012:pool/pool-0123abcd", True),
        # contract §12: "the phone number, sender id or pool to send from", as SendTextMessage takes them
        ("+15551234567", True),
        ("MyBrand", True),
        ("pool-0123456789abcdef0123456789abcdef", True),
        ("phone-0123456789abcdef0123456789abcdef", True),
        ("arn:aws:sms-voice:eu-central-1:123456789012:configuration-set/x", False),
        ("+0123", False),
        ("My Brand", False),
        ("pool:abc", False),  # a colon makes it an ARN to the condition below
    ],
)
def test_the_origination_identity_is_a_phone_number_sender_id_or_pool_or_the_arn_of_one(
    identity: str, allowed: bool
) -> None:
    pattern = TEMPLATE["Parameters"]["FallbackOriginationIdentity"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, identity)) is allowed
    if allowed and identity:  # FallbackIdentityIsArn: the value holds a colon
        is_arn = TEMPLATE["Conditions"]["FallbackIdentityIsArn"]
        assert is_arn == {
            "Fn::Not": [
                {
                    "Fn::Equals": [
                        {"Fn::Join": ["", {"Fn::Split": [":", {"Ref": "FallbackOriginationIdentity"}]}]},
                        {"Ref": "FallbackOriginationIdentity"},
                    ]
                }
            ]
        }
        assert ("".join(identity.split(":")) != identity) is identity.startswith("arn:")


def test_the_send_function_sends_from_exactly_an_identity_given_by_arn_else_from_the_accounts() -> None:
    [policy] = [
        policy["Fn::If"]
        for policy in RESOURCES["SendFunction"]["Properties"]["Policies"]
        if "Fn::If" in policy and "sms-voice" in json.dumps(policy)
    ]
    assert policy[0] == FALLBACK_ONLY
    [statement] = policy[1]["Statement"]
    assert statement["Action"] == ["sms-voice:SendTextMessage"]
    condition, by_arn, otherwise = statement["Resource"]["Fn::If"]
    configuration_set = {"Fn::GetAtt": ["FallbackConfigurationSet", "Arn"]}
    assert condition == "FallbackIdentityIsArn"
    assert by_arn == [
        {
            "Fn::Sub": [
                "arn:${AWS::Partition}:sms-voice:${AWS::Region}:${AWS::AccountId}:${Identity}",
                {"Identity": {"Fn::Select": [5, {"Fn::Split": [":", {"Ref": "FallbackOriginationIdentity"}]}]}},
            ]
        },
        configuration_set,
    ]
    here = "arn:${AWS::Partition}:sms-voice:${AWS::Region}:${AWS::AccountId}:"
    assert otherwise == [{"Fn::Sub": here + kind + "/*"} for kind in ("phone-number", "sender-id", "pool")] + [
        configuration_set
    ]


def test_every_resource_of_the_fallback_exists_only_with_it() -> None:
    fallback = {name for name, resource in RESOURCES.items() if resource.get("Condition") == FALLBACK_ONLY}
    assert {name for name in RESOURCES if "Fallback" in name or "Failover" in name} == fallback
    # Nothing that exists without the fallback refers to one of its resources, except through Fn::If.
    for name, resource in RESOURCES.items():
        if name in fallback:
            continue
        text = json.dumps(_without_if(resource))
        assert not [other for other in fallback if f'"{other}"' in text or "${" + other in text], name
    outputs = {name for name, output in TEMPLATE["Outputs"].items() if output.get("Condition") == FALLBACK_ONLY}
    assert outputs == {name for name in TEMPLATE["Outputs"] if "Fallback" in name}


def _without_if(node: Any) -> Any:
    if isinstance(node, dict):
        if set(node) == {"Fn::If"} and node["Fn::If"][0] == FALLBACK_ONLY:
            return None
        return {key: _without_if(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_without_if(item) for item in node]
    return node


def test_the_configuration_sets_events_reach_the_consumers_queue_and_nothing_else() -> None:
    [destination] = RESOURCES["FallbackConfigurationSet"]["Properties"]["EventDestinations"]
    assert destination["Enabled"] is True and destination["MatchingEventTypes"] == ["TEXT_ALL"]
    assert destination["SnsDestination"] == {"TopicArn": {"Ref": "FallbackEventsTopic"}}
    subscription = RESOURCES["FallbackEventsSubscription"]["Properties"]
    assert subscription["TopicArn"] == {"Ref": "FallbackEventsTopic"} and subscription["Protocol"] == "sqs"
    assert subscription["Endpoint"] == {"Fn::GetAtt": ["FallbackEventsQueue", "Arn"]}
    assert subscription["RawMessageDelivery"] is True  # aws_sms.events reads both forms; the raw one is smaller
    [to_queue] = RESOURCES["FallbackEventsQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert to_queue["Principal"] == {"Service": "sns.amazonaws.com"}
    assert to_queue["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Ref": "FallbackEventsTopic"}}}
    [to_topic] = RESOURCES["FallbackEventsTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert to_topic["Principal"] == {"Service": "sms-voice.amazonaws.com"} and to_topic["Action"] == "sns:Publish"
    assert to_topic["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    configuration_set = RESOURCES["FallbackConfigurationSet"]["Properties"]["ConfigurationSetName"]
    assert to_topic["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::Sub"].endswith(
        ":configuration-set/" + configuration_set["Fn::Sub"]
    )
    assert RESOURCES["FallbackConfigurationSet"]["DependsOn"] == "FallbackEventsTopicPolicy"
    queue = RESOURCES["FallbackEventsQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["FallbackEventsDeadLetterQueue", "Arn"]}


def test_the_events_hold_full_numbers_and_are_encrypted_at_rest() -> None:
    assert RESOURCES["FallbackEventsTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "FallbackEventsKey"}
    key = RESOURCES["FallbackEventsKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    [service] = [s for s in key["KeyPolicy"]["Statement"] if s["Principal"] == {"Service": "sms-voice.amazonaws.com"}]
    assert service["Action"] == ["kms:GenerateDataKey*", "kms:Decrypt"]
    assert service["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    for queue in ("FallbackEventsQueue", "FallbackEventsDeadLetterQueue"):
        assert RESOURCES[queue]["Properties"]["SqsManagedSseEnabled"] is True


def test_failover_sends_raise_an_alarm() -> None:
    alarm = RESOURCES["FailoverSendsAlarm"]
    assert alarm["Condition"] == FALLBACK_ONLY
    assert (alarm["Properties"]["Namespace"], alarm["Properties"]["MetricName"]) == ("SmsPipeline", "FailoverSends")
    assert alarm["Properties"]["Threshold"] == 0 and alarm["Properties"]["ComparisonOperator"] == "GreaterThanThreshold"


def test_the_fallback_settings_come_from_the_template() -> None:
    env = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert env["FALLBACK_PROVIDER"] == {"Ref": "FallbackProvider"}
    assert env["FALLBACK_ORIGINATION_IDENTITY"] == {"Ref": "FallbackOriginationIdentity"}
    assert env["FAILOVER_AFTER_SECONDS"] == {"Ref": "FailoverAfterSeconds"}
    # The configuration set's name, as the set itself is named.
    assert (
        env["FALLBACK_CONFIGURATION_SET"] == RESOURCES["FallbackConfigurationSet"]["Properties"]["ConfigurationSetName"]
    )
    # The settings need exactly these names (values as the template would give them with aws-sms).
    names = {name for name in env if name.startswith(("FALLBACK_", "FAILOVER_"))}
    given = {**CONFIG_ENV, **{name: value for name, value in CONFIG_FALLBACK.items() if name in names}}
    assert set(CONFIG_FALLBACK) == names
    assert Settings.from_env(given).has_fallback
    for name in names - {"FALLBACK_PROVIDER"}:
        with pytest.raises(ConfigError, match=name):
            Settings.from_env({key: value for key, value in given.items() if key != name})
