"""The template's AWS resources, created in a moto server from template.yaml itself.

template.yaml is the single description of the pipeline: local runs and tests read their queues,
table, topic and each function's environment from it, so they cannot drift from what is deployed.
Only the resource types the functions talk to are created (SQS queues, DynamoDB tables, SNS
topics); anything else (functions, layers, alarms) exists only by name: a Ref to it gives its
logical id, and a GetAtt on it is an error. A property a creator does not know is an error too,
rather than a local resource that silently differs from the deployed one.
"""

from __future__ import annotations

import graphlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import yaml

TEMPLATE_PATH = Path(__file__).resolve().parents[1] / "template.yaml"
ACCOUNT_ID = "123456789012"  # moto's default account

_FUNCTION = "AWS::Serverless::Function"
_NO_VALUE = object()  # what Ref AWS::NoValue resolves to: the enclosing property is dropped
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class StackError(Exception):
    """The template asks for something this local stack cannot give."""


# --- loading -----------------------------------------------------------------------------------


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that reads CloudFormation short tags (!Ref, !GetAtt, !Sub...) as their long form."""


def _short_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = loader.construct_mapping(node, deep=True)
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)  # "Db.Endpoint.Address" is attribute "Endpoint.Address" of Db
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _short_tag)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with path.open(encoding="utf-8") as stream:
        template: dict[str, Any] = yaml.load(stream, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    return template


# --- the stack ---------------------------------------------------------------------------------


@dataclass
class Resource:
    logical_id: str
    type: str
    ref: str
    attributes: dict[str, str]


@dataclass
class SqsEventMapping:
    """A function's SQS event source as the template configures it (SAM's defaults filled in)."""

    queue_url: str
    queue_arn: str
    batch_size: int
    maximum_batching_window: int
    report_batch_item_failures: bool
    maximum_concurrency: int | None


# What a schedule with no Input delivers (events/status-schedule.json has a full one).
SCHEDULED_EVENT: Mapping[str, Any] = {"source": "aws.scheduler", "detail-type": "Scheduled Event", "detail": {}}


@dataclass
class LocalStack:
    template: dict[str, Any]
    parameters: dict[str, str]
    resources: dict[str, Resource]
    region: str
    stack_name: str = "local"
    template_dir: Path = field(default_factory=lambda: TEMPLATE_PATH.parent)

    def ref(self, logical_id_or_param: str) -> str:
        """What Ref gives. A resource type that is not created locally gives its logical id."""
        name = logical_id_or_param
        if name in self.parameters:
            return self.parameters[name]
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": self.stack_name,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.resources:
            return self.resources[name].ref
        declared = self.template.get("Resources", {}).get(name)
        if declared is None:
            raise StackError(f"Ref {name}: no such parameter, pseudo parameter or resource")
        if declared["Type"] in _CREATORS:
            raise StackError(f"Ref {name}: resource is not created yet (a dependency cycle?)")
        return name

    def resolve(self, value: Any) -> Any:
        """The value with every intrinsic function in it evaluated, as CloudFormation would."""
        if isinstance(value, list):
            return [item for item in map(self.resolve, value) if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            [(key, argument)] = value.items()
            if key == "Ref":
                return _NO_VALUE if argument == "AWS::NoValue" else self.ref(argument)
            if key.startswith("Fn::"):
                function = _INTRINSICS.get(key)
                if function is None:
                    raise StackError(f"intrinsic function {key} is not supported by local/stack.py")
                return function(self, argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}

    def get_att(self, logical_id: str, attribute: str) -> str:
        resource = self.resources.get(logical_id)
        if resource is None:
            raise StackError(f"GetAtt {logical_id}.{attribute}: {logical_id} is not a resource created locally")
        if attribute not in resource.attributes:
            known = ", ".join(sorted(resource.attributes))
            raise StackError(f"GetAtt {logical_id}.{attribute}: unknown attribute (known: {known})")
        return resource.attributes[attribute]

    def function_environment(self, function_logical_id: str) -> dict[str, str]:
        """The variables Lambda would set: Globals overlaid with the function's own."""
        merged = {
            **self._globals().get("Environment", {}).get("Variables", {}),
            **self._function(function_logical_id).get("Environment", {}).get("Variables", {}),
        }
        return {name: _text(value) for name, value in self.resolve(merged).items()}

    def function_code(self, function_logical_id: str) -> tuple[Path, str]:
        properties = {**self._globals(), **self._function(function_logical_id)}
        code_uri, handler = properties.get("CodeUri"), properties.get("Handler")
        if not isinstance(code_uri, str) or not isinstance(handler, str):
            raise StackError(f"{function_logical_id}: needs a local CodeUri directory and a Handler")
        return (self.template_dir / code_uri).resolve(), handler

    def function_timeout(self, function_logical_id: str) -> int:
        properties = {**self._globals(), **self._function(function_logical_id)}
        return int(self.resolve(properties.get("Timeout", 3)))

    def function_memory(self, function_logical_id: str) -> int:
        """MemorySize in MB (Lambda's default, 128, if the template sets none)."""
        properties = {**self._globals(), **self._function(function_logical_id)}
        return int(self.resolve(properties.get("MemorySize", 128)))

    def sqs_event(self, function_logical_id: str) -> SqsEventMapping | None:
        events = self._events(function_logical_id, "SQS")
        if not events:
            return None
        if len(events) > 1:
            raise StackError(f"{function_logical_id}: more than one SQS event; local runs expect one")
        properties = self.resolve(events[0])
        queue_arn = properties["Queue"]
        queues = [
            r for r in self.resources.values() if r.type == "AWS::SQS::Queue" and r.attributes["Arn"] == queue_arn
        ]
        if not queues:
            raise StackError(f"{function_logical_id}: SQS event queue {queue_arn} is not a queue of this template")
        concurrency = properties.get("ScalingConfig", {}).get("MaximumConcurrency")
        return SqsEventMapping(
            queue_url=queues[0].ref,
            queue_arn=queue_arn,
            batch_size=int(properties.get("BatchSize", 10)),
            maximum_batching_window=int(properties.get("MaximumBatchingWindowInSeconds", 0)),
            report_batch_item_failures="ReportBatchItemFailures" in properties.get("FunctionResponseTypes", []),
            maximum_concurrency=None if concurrency is None else int(concurrency),
        )

    def schedule(self, function_logical_id: str) -> str | None:
        events = self._events(function_logical_id, "Schedule", "ScheduleV2")
        return str(self.resolve(events[0]["ScheduleExpression"])) if events else None

    def schedule_events(self, function_logical_id: str) -> list[dict[str, Any]]:
        """What each of the function's schedules delivers: its Input, or a scheduled event."""
        events = self._events(function_logical_id, "Schedule", "ScheduleV2")
        return [json.loads(self.resolve(e["Input"])) if "Input" in e else dict(SCHEDULED_EVENT) for e in events]

    def output(self, name: str) -> str:
        outputs = self.template.get("Outputs", {})
        if name not in outputs:
            raise StackError(f"no output {name} in the template")
        return _text(self.resolve(outputs[name]["Value"]))

    def _globals(self) -> dict[str, Any]:
        result: dict[str, Any] = self.template.get("Globals", {}).get("Function", {})
        return result

    def _function(self, logical_id: str) -> dict[str, Any]:
        declared = self.template.get("Resources", {}).get(logical_id)
        if declared is None or declared["Type"] != _FUNCTION:
            raise StackError(f"{logical_id} is not an {_FUNCTION} of the template")
        result: dict[str, Any] = declared.get("Properties", {})
        return result

    def _events(self, logical_id: str, *types: str) -> list[dict[str, Any]]:
        events = self._function(logical_id).get("Events", {}).values()
        return [event.get("Properties", {}) for event in events if event["Type"] in types]


# --- intrinsic functions -----------------------------------------------------------------------


def _get_att(stack: LocalStack, argument: Any) -> str:
    logical_id, attribute = argument.split(".", 1) if isinstance(argument, str) else stack.resolve(argument)
    return stack.get_att(logical_id, attribute)


def _sub(stack: LocalStack, argument: Any) -> str:
    text, variables = (argument, {}) if isinstance(argument, str) else argument
    variables = stack.resolve(variables)

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name in variables:
            return _text(variables[name])
        if "." in name and not name.startswith("AWS::"):
            return stack.get_att(*name.split(".", 1))
        return stack.ref(name)

    return _SUB_VARIABLE.sub(replace, text)


def _join(stack: LocalStack, argument: Any) -> str:
    delimiter, items = stack.resolve(argument)
    return str(delimiter).join(_text(item) for item in items)


def _select(stack: LocalStack, argument: Any) -> Any:
    index, items = stack.resolve(argument)
    return items[int(index)]


def _split(stack: LocalStack, argument: Any) -> list[str]:
    delimiter, text = stack.resolve(argument)
    return str(text).split(delimiter)


_INTRINSICS: dict[str, Callable[[LocalStack, Any], Any]] = {
    "Fn::GetAtt": _get_att,
    "Fn::Sub": _sub,
    "Fn::Join": _join,
    "Fn::Select": _select,
    "Fn::Split": _split,
}


def _text(value: Any) -> str:
    """A value as CloudFormation writes it into a string (YAML true is "true", not "True")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        raise StackError(f"expected a scalar, got {value!r}")
    return str(value)


# --- creating resources ------------------------------------------------------------------------


@dataclass
class _Aws:
    sqs: Any
    dynamodb: Any
    sns: Any


def _only(logical_id: str, properties: Mapping[str, Any], known: set[str]) -> None:
    unknown = sorted(set(properties) - known - {"Tags"})  # tags change nothing a local run sees
    if unknown:
        raise StackError(f"{logical_id}: properties {', '.join(unknown)} are not supported by local/stack.py")


_QUEUE_ATTRIBUTES = {  # same name in CloudFormation and in the SQS API
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
    "MaximumMessageSize",
    "SqsManagedSseEnabled",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "RedrivePolicy",
    "RedriveAllowPolicy",
}


def _create_queue(aws: _Aws, logical_id: str, properties: dict[str, Any], name: str) -> Resource:
    _only(logical_id, properties, _QUEUE_ATTRIBUTES | {"QueueName"})
    if properties.get("FifoQueue") in (True, "true"):
        name += ".fifo"
    name = properties.get("QueueName", name)
    attributes = {
        key: json.dumps(value) if isinstance(value, dict) else _text(value)
        for key, value in properties.items()
        if key in _QUEUE_ATTRIBUTES
    }
    url: str = aws.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn: str = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return Resource(logical_id, "AWS::SQS::Queue", url, {"Arn": arn, "QueueName": name, "QueueUrl": url})


def _create_table(aws: _Aws, logical_id: str, properties: dict[str, Any], name: str) -> Resource:
    _only(
        logical_id,
        properties,
        {
            "TableName",
            "AttributeDefinitions",
            "KeySchema",
            "GlobalSecondaryIndexes",
            "LocalSecondaryIndexes",
            "BillingMode",
            "ProvisionedThroughput",
            "StreamSpecification",
            "SSESpecification",
            "TimeToLiveSpecification",
            "PointInTimeRecoverySpecification",
        },
    )
    name = properties.get("TableName", name)
    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "KeySchema": properties["KeySchema"],
        "BillingMode": properties.get("BillingMode", "PAY_PER_REQUEST"),
    }
    provisioned = request["BillingMode"] == "PROVISIONED"
    if provisioned:
        request["ProvisionedThroughput"] = _throughput(properties["ProvisionedThroughput"])
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if key in properties:
            request[key] = [_index(index, provisioned) for index in properties[key]]
    if "StreamSpecification" in properties:
        request["StreamSpecification"] = {"StreamEnabled": True, **properties["StreamSpecification"]}
    if "SSESpecification" in properties:
        sse = dict(properties["SSESpecification"])
        request["SSESpecification"] = {"Enabled": sse.pop("SSEEnabled") in (True, "true"), **sse}
    description = aws.dynamodb.create_table(**request)["TableDescription"]
    ttl = properties.get("TimeToLiveSpecification", {})
    if ttl.get("Enabled") in (True, "true"):
        aws.dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]}
        )
    recovery = properties.get("PointInTimeRecoverySpecification", {})
    if recovery.get("PointInTimeRecoveryEnabled") in (True, "true"):
        aws.dynamodb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    attributes = {"Arn": description["TableArn"]}
    if "LatestStreamArn" in description:
        attributes["StreamArn"] = description["LatestStreamArn"]
    return Resource(logical_id, "AWS::DynamoDB::Table", name, attributes)


def _throughput(throughput: Mapping[str, Any]) -> dict[str, int]:
    return {key: int(throughput[key]) for key in ("ReadCapacityUnits", "WriteCapacityUnits")}


def _index(index: Mapping[str, Any], provisioned: bool) -> dict[str, Any]:
    """A CloudFormation index as the API takes it: no CFN-only keys, throughput only if provisioned."""
    result = {key: index[key] for key in ("IndexName", "KeySchema", "Projection") if key in index}
    if provisioned and "ProvisionedThroughput" in index:
        result["ProvisionedThroughput"] = _throughput(index["ProvisionedThroughput"])
    return result


_TOPIC_ATTRIBUTES = {"KmsMasterKeyId", "FifoTopic", "ContentBasedDeduplication", "DisplayName"}


def _create_topic(aws: _Aws, logical_id: str, properties: dict[str, Any], name: str) -> Resource:
    _only(logical_id, properties, _TOPIC_ATTRIBUTES | {"TopicName"})
    if properties.get("FifoTopic") in (True, "true"):
        name += ".fifo"
    name = properties.get("TopicName", name)
    attributes = {key: _text(value) for key, value in properties.items() if key in _TOPIC_ATTRIBUTES}
    arn: str = aws.sns.create_topic(Name=name, Attributes=attributes)["TopicArn"]
    return Resource(logical_id, "AWS::SNS::Topic", arn, {"TopicArn": arn, "TopicName": name})


_CREATORS: dict[str, Callable[[_Aws, str, dict[str, Any], str], Resource]] = {
    "AWS::SQS::Queue": _create_queue,
    "AWS::DynamoDB::Table": _create_table,
    "AWS::SNS::Topic": _create_topic,
}


# --- provisioning ------------------------------------------------------------------------------


def _parameters(template: Mapping[str, Any], overrides: Mapping[str, str]) -> dict[str, str]:
    """Defaults overlaid with overrides, checked as CloudFormation checks them at deploy time."""
    declared: dict[str, Any] = template.get("Parameters", {})
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise StackError(f"parameters {', '.join(unknown)} are not declared in the template")
    values: dict[str, str] = {}
    for name, spec in declared.items():
        if name in overrides:
            values[name] = str(overrides[name])
        elif "Default" in spec:
            values[name] = _text(spec["Default"])
        else:
            raise StackError(f"parameter {name} has no default: pass it in parameters={{{name!r}: ...}}")
        _check_parameter(name, spec, values[name])
    return values


def _check_parameter(name: str, spec: Mapping[str, Any], value: str) -> None:
    problem = None
    if "AllowedValues" in spec and value not in [_text(allowed) for allowed in spec["AllowedValues"]]:
        problem = f"is not one of {spec['AllowedValues']}"
    elif "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
        problem = f"does not match {spec['AllowedPattern']}"
    elif spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            number = None
        if number is None:
            problem = "is not a number"
        elif not float(spec.get("MinValue", number)) <= number <= float(spec.get("MaxValue", number)):
            problem = f"is outside [{spec.get('MinValue', '')}, {spec.get('MaxValue', '')}]"
    if problem:
        raise StackError(f"parameter {name}={value!r} {problem}")


def _references(value: Any) -> Iterator[str]:
    """Names a value refers to (Ref, GetAtt, ${...} in Sub): what must exist before it is resolved."""
    if isinstance(value, list):
        for item in value:
            yield from _references(item)
    elif isinstance(value, dict):
        for key, argument in value.items():
            if key == "Ref" and isinstance(argument, str):
                yield argument
            elif key == "Fn::GetAtt":
                target = argument.split(".", 1)[0] if isinstance(argument, str) else argument[0]
                yield from [target] if isinstance(target, str) else []
            elif key == "Fn::Sub":
                text = argument if isinstance(argument, str) else argument[0]
                yield from (name.split(".", 1)[0] for name in _SUB_VARIABLE.findall(text))
            yield from _references(argument)


def _dependencies(spec: Mapping[str, Any], declared: Mapping[str, Any]) -> set[str]:
    depends_on = spec.get("DependsOn", [])
    explicit = {depends_on} if isinstance(depends_on, str) else set(depends_on)
    return explicit | {name for name in _references(spec.get("Properties", {})) if name in declared}


def provision(
    *,
    endpoint_url: str,
    parameters: Mapping[str, str] | None = None,
    region: str = "eu-central-1",
    template_path: Path = TEMPLATE_PATH,
    name_prefix: str = "local",
    credentials: tuple[str, str] = ("testing", "testing"),
) -> LocalStack:
    """Create the template's queues, tables and topics in the moto server at endpoint_url.

    name_prefix makes physical names unique, so several stacks can live in one server (one per test).
    """
    template = load_template(template_path)
    stack = LocalStack(
        template=template,
        parameters=_parameters(template, parameters or {}),
        resources={},
        region=region,
        stack_name=name_prefix,
        template_dir=template_path.resolve().parent,
    )
    session = boto3.session.Session(
        aws_access_key_id=credentials[0], aws_secret_access_key=credentials[1], region_name=region
    )
    aws = _Aws(
        sqs=session.client("sqs", endpoint_url=endpoint_url),
        dynamodb=session.client("dynamodb", endpoint_url=endpoint_url),
        sns=session.client("sns", endpoint_url=endpoint_url),
    )
    declared: dict[str, Any] = template.get("Resources", {})
    graph = {logical_id: _dependencies(spec, declared) for logical_id, spec in declared.items()}
    for logical_id in graphlib.TopologicalSorter(graph).static_order():
        creator = _CREATORS.get(declared[logical_id]["Type"])
        if creator is not None:
            properties = stack.resolve(declared[logical_id].get("Properties", {}))
            stack.resources[logical_id] = creator(aws, logical_id, properties, f"{name_prefix}-{logical_id}")
    return stack
