"""local/stack.py: the template's resources created in a moto server from template.yaml itself."""

from __future__ import annotations

import itertools
import json
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.moto_server import ServerThread
from local.stack import SCHEDULED_EVENT, LocalStack, Resource, StackError, load_template, provision, translate

REGION = "eu-central-1"
SECRET_ARN = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:retarus-AbCdEf"
_prefixes = (f"stack{n}" for n in itertools.count())


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ServerThread()
    yield server.start()
    server.stop()


@pytest.fixture(scope="module")
def stack(endpoint: str) -> LocalStack:
    return provision(
        endpoint_url=endpoint, region=REGION, name_prefix=next(_prefixes), parameters={"RetarusSecretArn": SECRET_ARN}
    )


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_table_has_the_templates_keys_due_index_and_ttl(
    endpoint: str, stack: LocalStack, template: dict[str, Any]
) -> None:
    declared = template["Resources"]["JobsTable"]["Properties"]
    dynamodb = client(endpoint, "dynamodb")

    table = dynamodb.describe_table(TableName=stack.ref("JobsTable"))["Table"]

    assert table["KeySchema"] == declared["KeySchema"]
    assert sorted(table["AttributeDefinitions"], key=str) == sorted(declared["AttributeDefinitions"], key=str)
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    [index] = table["GlobalSecondaryIndexes"]
    [declared_index] = declared["GlobalSecondaryIndexes"]
    assert index["IndexName"] == declared_index["IndexName"] == "due"
    assert index["KeySchema"] == declared_index["KeySchema"]
    assert index["Projection"] == declared_index["Projection"]
    assert table["SSEDescription"]["Status"] == "ENABLED"
    ttl = dynamodb.describe_time_to_live(TableName=stack.ref("JobsTable"))["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": declared["TimeToLiveSpecification"]["AttributeName"]}
    assert stack.resources["JobsTable"].attributes["Arn"] == table["TableArn"]
    assert stack.output("JobsTableName") == table["TableName"]


def test_the_protection_tables_are_created_as_declared(endpoint: str, stack: LocalStack) -> None:
    """Contract §10: the opt-out list (an output) and the counters, whose items expire."""
    dynamodb = client(endpoint, "dynamodb")
    opt_out = dynamodb.describe_table(TableName=stack.output("OptOutTableName"))["Table"]
    assert opt_out["KeySchema"] == [{"AttributeName": "number", "KeyType": "HASH"}]
    counters = stack.ref("CountersTable")
    assert dynamodb.describe_table(TableName=counters)["Table"]["KeySchema"] == [
        {"AttributeName": "id", "KeyType": "HASH"}
    ]
    ttl = dynamodb.describe_time_to_live(TableName=counters)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expiresAt"}


def test_request_queue_redrives_to_the_dead_letter_queue(
    endpoint: str, stack: LocalStack, template: dict[str, Any]
) -> None:
    declared = template["Resources"]["RequestQueue"]["Properties"]
    sqs = client(endpoint, "sqs")
    dlq_arn = sqs.get_queue_attributes(QueueUrl=stack.ref("RequestDeadLetterQueue"), AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]

    attributes = sqs.get_queue_attributes(QueueUrl=stack.ref("RequestQueue"), AttributeNames=["All"])["Attributes"]

    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dlq_arn == stack.resources["RequestDeadLetterQueue"].attributes["Arn"]
    assert int(redrive["maxReceiveCount"]) == declared["RedrivePolicy"]["maxReceiveCount"] == 600
    assert attributes["VisibilityTimeout"] == str(declared["VisibilityTimeout"])
    assert attributes["MessageRetentionPeriod"] == str(declared["MessageRetentionPeriod"])
    assert attributes["SqsManagedSseEnabled"] == "true"
    assert stack.output("RequestQueueUrl") == stack.ref("RequestQueue")
    assert stack.output("RequestQueueArn") == attributes["QueueArn"]


def test_topic_exists_with_the_templates_key(endpoint: str, stack: LocalStack) -> None:
    sns = client(endpoint, "sns")
    arn = stack.ref("OutcomesTopic")

    attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]

    assert attributes["KmsMasterKeyId"] == "alias/aws/sns"
    assert stack.output("OutcomesTopicArn") == arn == stack.resources["OutcomesTopic"].attributes["TopicArn"]


def test_send_function_environment_comes_from_the_template(stack: LocalStack) -> None:
    env = stack.function_environment("SendFunction")

    assert env["JOBS_TABLE_NAME"] == stack.ref("JobsTable")
    assert env["OUTCOMES_TOPIC_ARN"] == stack.ref("OutcomesTopic")
    assert env["RETARUS_BASE_URL"] == "https://sms4a.retarus.com/httpsimple/v1"
    assert env["RETARUS_SECRET_ARN"] == SECRET_ARN
    assert env["SEND_CONCURRENCY"] == "10"
    assert env["RESEND_UNCONFIRMED"] == "false"
    assert env["DUE_INDEX_NAME"] == "due"
    assert env["DUE_INDEX_SHARDS"] == "4"
    assert "STATUS_CONCURRENCY" not in env
    assert all(isinstance(value, str) for value in env.values())


def test_status_function_environment_has_its_own_variables(stack: LocalStack) -> None:
    env = stack.function_environment("StatusFunction")
    assert env["STATUS_CONCURRENCY"] == "16"
    assert env["STATUS_MAX_JOBS_PER_RUN"] == "2000"
    assert "SEND_CONCURRENCY" not in env
    assert env["JOBS_TABLE_NAME"] == stack.ref("JobsTable")


def test_send_function_sqs_event_source(stack: LocalStack) -> None:
    event = stack.sqs_event("SendFunction")

    assert event is not None
    assert event.queue_url == stack.ref("RequestQueue")
    assert event.queue_arn == stack.resources["RequestQueue"].attributes["Arn"]
    assert event.batch_size == 10
    assert event.maximum_batching_window == 0  # SendBatchingWindowSeconds' default (contract §13)
    assert event.report_batch_item_failures is True
    assert event.maximum_concurrency == 5
    # The status function's own SQS event is the check queue's, not the requests' (issue #24).
    checks = stack.sqs_event("StatusFunction")
    assert checks is not None and checks.queue_url == stack.ref("CheckQueue") != event.queue_url
    assert checks.maximum_batching_window == 0 and checks.report_batch_item_failures is True
    assert checks.maximum_concurrency == 5  # CheckMaxConcurrency's default


def test_status_function_schedule(stack: LocalStack) -> None:
    assert stack.schedule("StatusFunction") == "rate(1 minute)"
    assert stack.schedule("SendFunction") is None
    assert stack.schedule_events("StatusFunction") == [SCHEDULED_EVENT]
    assert stack.schedule_events("SendFunction") == []


def test_function_code_and_timeout(stack: LocalStack) -> None:
    code_dir, handler = stack.function_code("SendFunction")
    assert code_dir.is_absolute() and (code_dir / "app.py").is_file()
    assert code_dir == Path(__file__).resolve().parents[2] / "functions" / "send"
    assert handler == "app.lambda_handler"
    assert stack.function_timeout("SendFunction") == 30
    assert stack.function_timeout("StatusFunction") == 50
    assert stack.function_memory("SendFunction") == 1024
    assert stack.function_memory("StatusFunction") == 1024
    with pytest.raises(StackError, match="JobsTable"):
        stack.function_code("JobsTable")


def test_resources_that_are_not_created_resolve_to_their_logical_id(stack: LocalStack) -> None:
    created = {
        "RequestDeadLetterQueue",
        "RequestQueue",
        "CheckDeadLetterQueue",
        "CheckQueue",
        "JobsTable",
        "OutcomesTopic",
        "AlarmsTopic",
    }
    created |= {"OptOutTable", "CountersTable"}  # the protection rules' (contract §10)
    assert set(stack.resources) == created
    assert stack.resolve({"Ref": "SendFunction"}) == "SendFunction"
    with pytest.raises(StackError, match=r"SendFunction\.Arn"):
        stack.resolve({"Fn::GetAtt": ["SendFunction", "Arn"]})


def test_second_stack_in_the_same_server_is_isolated_and_takes_overrides(endpoint: str, stack: LocalStack) -> None:
    other = provision(
        endpoint_url=endpoint,
        region=REGION,
        name_prefix=next(_prefixes),
        parameters={
            "RetarusSecretArn": SECRET_ARN,
            "SendMaxConcurrency": "7",
            "StatusScheduleRate": "rate(5 minutes)",
            "StatusMemorySize": "1769",
        },
    )

    assert other.ref("JobsTable") != stack.ref("JobsTable")
    assert other.ref("RequestQueue") != stack.ref("RequestQueue")
    assert other.ref("OutcomesTopic") != stack.ref("OutcomesTopic")
    event = other.sqs_event("SendFunction")
    assert event is not None and event.maximum_concurrency == 7
    assert other.schedule("StatusFunction") == "rate(5 minutes)"
    assert other.function_memory("StatusFunction") == 1769
    assert stack.function_memory("StatusFunction") == 1024
    assert other.parameters["SendMaxConcurrency"] == "7"
    assert stack.parameters["SendMaxConcurrency"] == "5"


def test_missing_required_parameter_is_named(endpoint: str) -> None:
    with pytest.raises(StackError, match="RetarusSecretArn"):
        provision(endpoint_url=endpoint, region=REGION, name_prefix=next(_prefixes))


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"LogLevel": "TRACE"}, "LogLevel"),
        ({"RetarusBaseUrl": "https://example.com/"}, "RetarusBaseUrl"),
        ({"SendMaxConcurrency": "1"}, "SendMaxConcurrency"),
        ({"DueIndexShards": "many"}, "DueIndexShards"),
        ({"StatusMemorySize": "64"}, "StatusMemorySize"),
        ({"NoSuchParameter": "x"}, "NoSuchParameter"),
    ],
)
def test_parameters_are_checked_like_cloudformation(endpoint: str, overrides: dict[str, str], named: str) -> None:
    with pytest.raises(StackError, match=named):
        provision(
            endpoint_url=endpoint,
            region=REGION,
            name_prefix=next(_prefixes),
            parameters={"RetarusSecretArn": SECRET_ARN, **overrides},
        )


def test_conditions_are_evaluated_with_the_stacks_parameters(endpoint: str, stack: LocalStack) -> None:
    parameters = {"AlarmEmail": "ops@example.com", "ProducerAccountIds": "111111111111"}
    other = provision(endpoint_url=endpoint, name_prefix=next(_prefixes), parameters={**stack.parameters, **parameters})

    conditions = ("HasAlarmEmail", "HasProducerAccounts", "HasConsumerAccounts", "HasSecretKmsKey")
    assert [stack.condition(name) for name in conditions] == [False, False, False, False]
    assert [other.condition(name) for name in conditions] == [True, True, False, False]


def test_a_resource_whose_condition_is_false_is_not_created(endpoint: str, tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(
        "Parameters: {Env: {Type: String, Default: dev}}\n"
        "Conditions: {IsProd: !Equals [!Ref Env, prod]}\n"
        "Resources:\n"
        "  Always: {Type: AWS::SNS::Topic}\n"
        "  ProdOnly: {Type: AWS::SNS::Topic, Condition: IsProd}\n"
    )

    dev = provision(endpoint_url=endpoint, region=REGION, template_path=path, name_prefix=next(_prefixes))
    prod = provision(
        endpoint_url=endpoint,
        region=REGION,
        template_path=path,
        name_prefix=next(_prefixes),
        parameters={"Env": "prod"},
    )

    assert set(dev.resources) == {"Always"}
    assert set(prod.resources) == {"Always", "ProdOnly"}
    with pytest.raises(StackError, match="ProdOnly"):
        dev.ref("ProdOnly")


def test_a_property_the_creator_does_not_know_is_an_error(endpoint: str, tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text("Resources:\n  Queue: {Type: AWS::SQS::Queue, Properties: {VisibilityTimeout: 30, Shiny: true}}\n")

    with pytest.raises(StackError, match="Queue: properties Shiny"):
        provision(endpoint_url=endpoint, region=REGION, template_path=path, name_prefix=next(_prefixes))


def test_resources_are_created_before_what_names_them_and_a_cycle_is_an_error(endpoint: str, tmp_path: Path) -> None:
    redrive = "RedrivePolicy: {{deadLetterTargetArn: !GetAtt {}.Arn, maxReceiveCount: 5}}"
    ordered, cyclic = tmp_path / "ordered.yaml", tmp_path / "cyclic.yaml"
    ordered.write_text(
        f"Resources:\n  Main: {{Type: AWS::SQS::Queue, Properties: {{{redrive.format('Dlq')}}}}}\n"
        "  Dlq: {Type: AWS::SQS::Queue}\n"
    )
    cyclic.write_text(
        f"Resources:\n  A: {{Type: AWS::SQS::Queue, Properties: {{{redrive.format('B')}}}}}\n"
        f"  B: {{Type: AWS::SQS::Queue, Properties: {{{redrive.format('A')}}}}}\n"
    )

    stack = provision(endpoint_url=endpoint, region=REGION, template_path=ordered, name_prefix=next(_prefixes))
    sqs = client(endpoint, "sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=stack.ref("Main"), AttributeNames=["RedrivePolicy"])["Attributes"]
    assert json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"] == stack.get_att("Dlq", "Arn")
    with pytest.raises(StackError, match="cycle"):
        provision(endpoint_url=endpoint, region=REGION, template_path=cyclic, name_prefix=next(_prefixes))


# --- the template loader and the resolver, without a server -----------------------------------


def test_short_tags_load_as_long_form(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(
        "A: !Ref Param\n"
        "B: !GetAtt Queue.Arn\n"
        "C: !GetAtt [Db, Endpoint.Address]\n"
        'D: !Sub "${AWS::Region}-x"\n'
        "E: !Sub ['${X}', {X: !Ref Param}]\n"
        "F: !Join [',', [a, !Select [0, !Split ['/', 'p/q']]]]\n"
        "G: !If [Cond, !GetAtt Db.Endpoint.Address, !Ref AWS::NoValue]\n"
        "H: !GetAZs ''\n"
    )

    loaded = load_template(path)

    assert loaded == {
        "A": {"Ref": "Param"},
        "B": {"Fn::GetAtt": ["Queue", "Arn"]},
        "C": {"Fn::GetAtt": ["Db", "Endpoint.Address"]},
        "D": {"Fn::Sub": "${AWS::Region}-x"},
        "E": {"Fn::Sub": ["${X}", {"X": {"Ref": "Param"}}]},
        "F": {"Fn::Join": [",", ["a", {"Fn::Select": [0, {"Fn::Split": ["/", "p/q"]}]}]]},
        "G": {"Fn::If": ["Cond", {"Fn::GetAtt": ["Db", "Endpoint.Address"]}, {"Ref": "AWS::NoValue"}]},
        "H": {"Fn::GetAZs": ""},
    }


def fake_stack() -> LocalStack:
    return LocalStack(
        template={
            "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}, "Fn": {"Type": "AWS::Serverless::Function"}},
            "Conditions": {
                "IsDev": {"Fn::Equals": [{"Ref": "Env"}, "dev"]},
                "IsProd": {"Fn::Not": [{"Condition": "IsDev"}]},
                "FourShards": {"Fn::Equals": [{"Ref": "Shards"}, 4]},
            },
        },
        parameters={"Env": "dev", "Shards": "4"},
        resources={
            "Queue": Resource(
                "Queue", "AWS::SQS::Queue", "http://q/url", {"Arn": "arn:aws:sqs:r:1:q", "QueueName": "q"}
            )
        },
        region="eu-west-1",
        stack_name="demo",
    )


def test_each_schedule_delivers_its_input_or_a_scheduled_event() -> None:
    """make run runs one status schedule per template schedule, each with what it delivers: a
    fanned-out template (docs/scaling.md, 1,000×) gives each its shards."""
    every = {"Type": "ScheduleV2", "Properties": {"ScheduleExpression": "rate(1 minute)"}}
    some = {"Type": "ScheduleV2", "Properties": {"ScheduleExpression": "rate(1 minute)", "Input": '{"shards": [0, 1]}'}}
    code = {"Runtime": "python3.13", "Handler": "app.lambda_handler", "CodeUri": "functions/status/"}
    function = {"Type": "AWS::Serverless::Function", "Properties": {**code, "Events": {"Every": every, "Some": some}}}
    template = translate({"Resources": {"Fn": function}}, {}, "eu-west-1")
    stack = LocalStack(template=template, parameters={}, resources={}, region="eu-west-1")

    assert stack.schedule_events("Fn") == [SCHEDULED_EVENT, {"shards": [0, 1]}]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"Fn::Sub": "${Env}-${Queue}"}, "dev-http://q/url"),
        ({"Fn::Sub": "${Queue.Arn}/x"}, "arn:aws:sqs:r:1:q/x"),
        ({"Fn::Sub": "${!Literal} ${Env}"}, "${Literal} dev"),
        ({"Fn::Sub": "arn:${AWS::Partition}:s3:::${AWS::StackName}-${AWS::Region}-${AWS::AccountId}"}, None),
        ({"Fn::Sub": ["${Name}.${Env}", {"Name": {"Fn::GetAtt": ["Queue", "QueueName"]}}]}, "q.dev"),
        ({"Fn::Sub": ["${Env}", {"Env": "shadowed"}]}, "shadowed"),
        ({"Fn::Sub": "no variables"}, "no variables"),
        ({"Fn::Join": ["-", ["a", {"Ref": "Env"}, 3]]}, "a-dev-3"),
        ({"Fn::Select": ["1", {"Fn::Split": [",", "a,b,c"]}]}, "b"),
        ({"Fn::GetAtt": "Queue.QueueName"}, "q"),
        ({"Ref": "Fn"}, "Fn"),
        ({"Ref": "AWS::URLSuffix"}, "amazonaws.com"),
        ({"A": {"Ref": "AWS::NoValue"}, "B": [{"Ref": "Shards"}, {"Ref": "AWS::NoValue"}]}, {"B": ["4"]}),
        ({"Fn::If": ["IsDev", {"Ref": "Env"}, {"Fn::GetAtt": ["Fn", "Arn"]}]}, "dev"),
        ([{"Fn::If": ["IsProd", "x", {"Ref": "AWS::NoValue"}]}, "y"], ["y"]),
        ({"Fn::If": ["FourShards", 1, 2]}, 1),
        ({"Fn::Equals": [{"Fn::Split": [",", "a,4"]}, ["a", 4]]}, True),
        (
            {"Fn::And": [{"Condition": "IsDev"}, {"Fn::Or": [{"Condition": "IsProd"}, {"Condition": "FourShards"}]}]},
            True,
        ),
    ],
)
def test_resolve(value: Any, expected: Any) -> None:
    if expected is None:
        expected = "arn:aws:s3:::demo-eu-west-1-123456789012"
    assert fake_stack().resolve(value) == expected


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ({"Fn::If": ["Cond", "a", "b"]}, "Fn::If"),
        ({"Ref": "Nothing"}, "Nothing"),
        ({"Fn::GetAtt": ["Queue", "Nope"]}, r"Queue\.Nope"),
        ({"Fn::Sub": "${Fn.Arn}"}, r"Fn\.Arn"),
        ({"Fn::Sub": "${Missing}"}, "Missing"),
        ({"Fn::Not": ["dev"]}, "dev"),
    ],
)
def test_resolve_errors_name_the_problem(value: Any, named: str) -> None:
    with pytest.raises(StackError, match=named):
        fake_stack().resolve(value)


def test_the_loaded_template_is_built_in_types_that_reach_a_spawned_worker(template: dict[str, Any]) -> None:
    """make run hands the environment and handler to worker processes by pickling them."""
    assert pickle.loads(pickle.dumps(template)) == template  # noqa: S301 - our own bytes
    assert type(template["Resources"]["SendFunction"]["Properties"]["Handler"]) is str
