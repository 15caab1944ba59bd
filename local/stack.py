"""The template's AWS resources, created in a moto server from template.yaml itself.

template.yaml is the single description of the pipeline: local runs and tests read their queues,
table, topic and each function's environment from it, so they cannot drift from what is deployed.
The template goes the way `sam deploy` takes it: cfn-lint's decoder reads it, the parameters are
checked as CloudFormation checks them, SAM's own translator expands it (Globals, event sources,
roles), and then what CloudFormation would do is done here for the resource types the functions
talk to (SQS queues, DynamoDB tables, SNS topics). Anything else (functions, roles, alarms) exists
only by name: a Ref to it gives its logical id, and a GetAtt on it is an error. A property a
creator does not know is an error too, rather than a local resource that silently differs from
the deployed one.

Why not moto's CloudFormation (moto 5.2.5, the translated template in `create_stack`): it failed
on this template (a role's `!If [Condition, policy, !Ref AWS::NoValue]` reaches its IAM parser as
a policy of None, a TypeError, and DescribeStacks then answers 500); of what it had created, the table had
neither the template's SSESpecification nor its TimeToLiveSpecification, a queue property it does
not know was accepted silently, and types it lacks (AWS::SQS::QueuePolicy) are skipped with a
warning. So the small creators below stay, and so does the resolver of intrinsic functions that
feeds them: samtranslator leaves Ref/GetAtt/Sub/If in place, and cfn-lint resolves values only to
lint them, not against a stack's resources.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

TEMPLATE_PATH = Path(__file__).resolve().parents[1] / "template.yaml"
ACCOUNT_ID = "123456789012"  # moto's default account

_FUNCTION = "AWS::Lambda::Function"
_NO_VALUE = object()  # what Ref AWS::NoValue resolves to: the enclosing property is dropped
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")
# Where local code "is uploaded": `sam build` puts an S3 location in CodeUri before the transform
# (which takes nothing else); function_code maps it back to the template's directory.
_CODE_BUCKET = "local-code"


class StackError(Exception):
    """The template asks for something this local stack cannot give."""


# --- loading and translating -------------------------------------------------------------------


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as written, short tags (!Ref, !GetAtt...) in their long form (cfn-lint's decoder)."""
    from cfnlint.decode import decode  # about 0.6 s to import: only when a template is read

    template, problems = decode(str(path))
    if problems or template is None:
        raise StackError(f"{path}: " + "; ".join(problem.message for problem in problems))
    loaded: dict[str, Any] = _plain(template)
    return loaded


def _plain(value: Any) -> Any:
    """The decoded value in built-in types: cfn-lint's str and dict subclasses (which carry line
    numbers) cannot be pickled to the function workers."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return str(value) if isinstance(value, str) else value


def translate(template: Mapping[str, Any], parameters: Mapping[str, str], region: str) -> dict[str, Any]:
    """The CloudFormation template SAM's translator makes of a SAM template (what `sam deploy` sends)."""
    from samtranslator.metrics.metrics import Metrics
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser import parser
    from samtranslator.translator.translator import Translator

    metrics = Metrics()  # published (to nowhere) below, or it warns on stderr when collected
    translator = Translator(
        managed_policy_map={},
        sam_parser=parser.Parser(),
        boto_session=boto3.session.Session(region_name=region),
        metrics=metrics,
    )
    try:
        translated: dict[str, Any] = translator.translate(
            sam_template=_packaged(template), parameter_values=dict(parameters)
        )
    except InvalidDocumentException as error:
        raise StackError(f"SAM cannot translate the template: {error}") from error
    finally:
        metrics.publish()
    return translated


def _packaged(template: Mapping[str, Any]) -> dict[str, Any]:
    """The template with local code directories as S3 locations, as `sam build`/`sam package` leave it."""
    packaged = copy.deepcopy(dict(template))
    sections = [spec.get("Properties", {}) for spec in packaged.get("Resources", {}).values()]
    sections += packaged.get("Globals", {}).values()
    for properties in sections:
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str) and not properties[key].startswith("s3://"):
                properties[key] = f"s3://{_CODE_BUCKET}/{properties[key]}"
    return packaged


# --- the stack ---------------------------------------------------------------------------------


@dataclass
class Resource:
    logical_id: str
    type: str
    ref: str
    attributes: dict[str, str]


@dataclass
class SqsEventMapping:
    """A function's SQS event source as the template configures it (Lambda's defaults filled in)."""

    queue_url: str
    queue_arn: str
    batch_size: int
    maximum_batching_window: int
    report_batch_item_failures: bool
    maximum_concurrency: int | None


# What a schedule with no Input delivers (events/status-schedule.json has a full one).
SCHEDULED_EVENT: Mapping[str, Any] = {"source": "aws.scheduler", "detail-type": "Scheduled Event", "detail": {}}

# What the local event source honours of an event source mapping; anything else would make it
# behave differently from the deployed one (a FilterCriteria, say), so it is an error.
_MAPPING_PROPERTIES = {
    "EventSourceArn",
    "FunctionName",
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "FunctionResponseTypes",
    "ScalingConfig",
    "Enabled",
}


@dataclass
class LocalStack:
    """The stack: `template` is what CloudFormation receives (after SAM's transform, see translate)."""

    template: dict[str, Any]
    parameters: dict[str, str]
    resources: dict[str, Resource]
    region: str
    stack_name: str = "local"
    template_dir: Path = field(default_factory=lambda: TEMPLATE_PATH.parent)
    aws: _Aws | None = field(default=None, repr=False)  # where resources are created; None: none are
    _creating: set[str] = field(default_factory=set, repr=False)

    def ref(self, logical_id_or_param: str) -> Any:
        """What Ref gives. A resource type that is not created locally gives its logical id."""
        name = logical_id_or_param
        if name in self.parameters:
            value = self.parameters[name]
            kind = str(self.template.get("Parameters", {}).get(name, {}).get("Type", "String"))
            return value.split(",") if kind == "CommaDelimitedList" or kind.startswith("List<") else value
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
        if "Condition" in declared and not self.condition(declared["Condition"]):
            raise StackError(f"Ref {name}: the resource's condition {declared['Condition']} is false")
        return self.create(name).ref if declared["Type"] in _CREATORS else name

    def create(self, logical_id: str) -> Resource:
        """The resource, created first if it is not yet: a resource is created when the first value
        that names it is resolved (so in dependency order, as CloudFormation orders them)."""
        if logical_id in self.resources:
            return self.resources[logical_id]
        spec = self.template["Resources"][logical_id]
        if "Condition" in spec and not self.condition(spec["Condition"]):
            raise StackError(f"{logical_id}: the resource's condition {spec['Condition']} is false")
        if self.aws is None or logical_id in self._creating:
            raise StackError(f"{logical_id}: resource is not created (a dependency cycle?)")
        self._creating.add(logical_id)
        properties = self.resolve(spec.get("Properties", {}))
        creator = _CREATORS[spec["Type"]]
        resource = creator(self.aws, logical_id, properties, f"{self.stack_name}-{logical_id}")
        self.resources[logical_id] = resource
        return resource

    def condition(self, name: str) -> bool:
        """A condition of the template, evaluated with this stack's parameters."""
        declared = self.template.get("Conditions", {})
        if name not in declared:
            raise StackError(f"condition {name} is not declared in the template")
        value = self.resolve(declared[name])
        if not isinstance(value, bool):
            raise StackError(f"condition {name} is {value!r}, not a condition function")
        return value

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
            if key == "Condition" and isinstance(argument, str):
                return self.condition(argument)
            if key.startswith("Fn::"):
                function = _INTRINSICS.get(key)
                if function is None:
                    raise StackError(f"intrinsic function {key} is not supported by local/stack.py")
                return function(self, argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}

    def get_att(self, logical_id: str, attribute: str) -> str:
        declared = self.template.get("Resources", {}).get(logical_id, {})
        resource = self.create(logical_id) if declared.get("Type") in _CREATORS else None
        if resource is None:
            raise StackError(f"GetAtt {logical_id}.{attribute}: {logical_id} is not a resource created locally")
        if attribute not in resource.attributes:
            known = ", ".join(sorted(resource.attributes))
            raise StackError(f"GetAtt {logical_id}.{attribute}: unknown attribute (known: {known})")
        return resource.attributes[attribute]

    def function_environment(self, function_logical_id: str) -> dict[str, str]:
        """The variables Lambda would set (SAM has merged the Globals into them)."""
        variables = self._function(function_logical_id).get("Environment", {}).get("Variables", {})
        return {name: _text(value) for name, value in self.resolve(variables).items()}

    def function_code(self, function_logical_id: str) -> tuple[Path, str]:
        properties = self._function(function_logical_id)
        code, handler = properties.get("Code", {}), properties.get("Handler")
        if code.get("S3Bucket") != _CODE_BUCKET or not isinstance(handler, str):
            raise StackError(f"{function_logical_id}: needs a local CodeUri directory and a Handler")
        return (self.template_dir / code["S3Key"]).resolve(), handler

    def function_timeout(self, function_logical_id: str) -> int:
        """Timeout in seconds (Lambda's default, 3, if the template sets none)."""
        return int(self.resolve(self._function(function_logical_id).get("Timeout", 3)))

    def function_memory(self, function_logical_id: str) -> int:
        """MemorySize in MB (Lambda's default, 128, if the template sets none)."""
        return int(self.resolve(self._function(function_logical_id).get("MemorySize", 128)))

    def sqs_event(self, function_logical_id: str) -> SqsEventMapping | None:
        self._function(function_logical_id)
        mappings = []
        for logical_id, spec in self._resources_of("AWS::Lambda::EventSourceMapping"):
            properties = self.resolve(spec.get("Properties", {}))
            if properties.get("FunctionName") == function_logical_id and ":sqs:" in properties["EventSourceArn"]:
                _only(logical_id, properties, _MAPPING_PROPERTIES)
                mappings.append(properties)
        if not mappings:
            return None
        if len(mappings) > 1:
            raise StackError(f"{function_logical_id}: more than one SQS event; local runs expect one")
        [properties] = mappings
        queue_arn = properties["EventSourceArn"]
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
        schedules = self._schedules(function_logical_id)
        return str(self.resolve(schedules[0][0])) if schedules else None

    def schedule_events(self, function_logical_id: str) -> list[dict[str, Any]]:
        """What each of the function's schedules delivers: its Input, or a scheduled event."""
        return [
            dict(SCHEDULED_EVENT) if target.get("Input") is None else json.loads(self.resolve(target["Input"]))
            for _, target in self._schedules(function_logical_id)
        ]

    def output(self, name: str) -> str:
        outputs = self.template.get("Outputs", {})
        if name not in outputs:
            raise StackError(f"no output {name} in the template")
        if "Condition" in outputs[name] and not self.condition(outputs[name]["Condition"]):
            raise StackError(f"output {name}: its condition {outputs[name]['Condition']} is false")
        return _text(self.resolve(outputs[name]["Value"]))

    def _resources_of(self, *types: str) -> list[tuple[str, dict[str, Any]]]:
        """Declared resources of these types whose condition (if any) holds, in template order."""
        return [
            (logical_id, spec)
            for logical_id, spec in self.template.get("Resources", {}).items()
            if spec["Type"] in types and ("Condition" not in spec or self.condition(spec["Condition"]))
        ]

    def _function(self, logical_id: str) -> dict[str, Any]:
        declared = self.template.get("Resources", {}).get(logical_id)
        if declared is None or declared["Type"] != _FUNCTION:
            raise StackError(f"{logical_id} is not a function of the template")
        result: dict[str, Any] = declared.get("Properties", {})
        return result

    def _schedules(self, logical_id: str) -> list[tuple[Any, dict[str, Any]]]:
        """(expression, target) of each schedule that invokes the function: SAM makes a ScheduleV2
        event an AWS::Scheduler::Schedule and a Schedule event an AWS::Events::Rule."""
        self._function(logical_id)
        found: list[tuple[Any, dict[str, Any]]] = []
        for _, spec in self._resources_of("AWS::Scheduler::Schedule", "AWS::Events::Rule"):
            properties = spec.get("Properties", {})
            targets = [properties["Target"]] if "Target" in properties else properties.get("Targets", [])
            expression = properties.get("ScheduleExpression")
            found += [(expression, t) for t in targets if expression is not None and _arn_of(t["Arn"]) == logical_id]
        return found


def _arn_of(value: Any) -> str | None:
    """The logical id whose Arn a target names (the functions are not created, so not resolved)."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        argument = value["Fn::GetAtt"]
        logical_id, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
        return str(logical_id) if attribute == "Arn" else None
    return None


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
        return _text(stack.ref(name))

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


def _if(stack: LocalStack, argument: Any) -> Any:
    """Only the chosen branch is resolved: the other may name what this stack does not create."""
    name, if_true, if_false = argument
    if name not in stack.template.get("Conditions", {}):
        raise StackError(f"Fn::If: condition {name} is not declared in the template")
    return stack.resolve(if_true if stack.condition(name) else if_false)


def _equals(stack: LocalStack, argument: Any) -> bool:
    """Values compared as CloudFormation writes them (a Number parameter's "4" equals 4)."""
    left, right = (
        [_text(item) for item in value] if isinstance(value, list) else _text(value)
        for value in stack.resolve(argument)
    )
    return bool(left == right)


def _not(stack: LocalStack, argument: Any) -> bool:
    [value] = stack.resolve(argument)
    return not _boolean(value)


def _and(stack: LocalStack, argument: Any) -> bool:
    return all(_boolean(value) for value in stack.resolve(argument))


def _or(stack: LocalStack, argument: Any) -> bool:
    return any(_boolean(value) for value in stack.resolve(argument))


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise StackError(f"expected a condition, got {value!r}")
    return value


_INTRINSICS: dict[str, Callable[[LocalStack, Any], Any]] = {
    "Fn::GetAtt": _get_att,
    "Fn::Sub": _sub,
    "Fn::Join": _join,
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::If": _if,
    "Fn::Equals": _equals,
    "Fn::Not": _not,
    "Fn::And": _and,
    "Fn::Or": _or,
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
    """Defaults overlaid with overrides, checked as CloudFormation checks them at deploy time.

    Hand-written because nothing installed checks a value passed in: SAM's translator fills in the
    defaults only, and cfn-lint (1.51) lints the declarations; its deployment-file rule (E2900)
    checks AllowedValues and required parameters but reads a `Pattern` key (the template's is
    `AllowedPattern`) and has no MinValue/MaxValue, and a lint run costs seconds per stack.
    """
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
    declared_template = load_template(template_path)
    values = _parameters(declared_template, parameters or {})
    stack = LocalStack(
        template=translate(declared_template, values, region),
        parameters=values,
        resources={},
        region=region,
        stack_name=name_prefix,
        template_dir=template_path.resolve().parent,
    )
    session = boto3.session.Session(
        aws_access_key_id=credentials[0], aws_secret_access_key=credentials[1], region_name=region
    )
    stack.aws = _Aws(
        sqs=session.client("sqs", endpoint_url=endpoint_url),
        dynamodb=session.client("dynamodb", endpoint_url=endpoint_url),
        sns=session.client("sns", endpoint_url=endpoint_url),
    )
    for logical_id, _ in stack._resources_of(*_CREATORS):
        stack.create(logical_id)
    return stack
