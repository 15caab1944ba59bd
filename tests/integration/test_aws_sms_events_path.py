"""The fallback's delivery events as the stack receives them: the simulator publishes them to an SNS
topic in moto, as the configuration set's event destination does, and a queue subscribed to the
topic gets them in the SNS envelope, which sms_pipeline.aws_sms.events reads."""

from __future__ import annotations

import boto3

from local.aws_sms import AwsSmsSimulator, sns_sink
from sms_pipeline.aws_sms.events import parse, verdict
from sms_pipeline.outcomes import Outcome
from support import REGION


def test_events_published_to_sns_reach_a_subscribed_queue_readable(moto_endpoint: str) -> None:
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="aws-sms-events-path")["TopicArn"]
    queue = sqs.create_queue(QueueName="aws-sms-events-path")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)  # no raw delivery: the SNS envelope
    with AwsSmsSimulator(events=sns_sink(moto_endpoint, topic, REGION)) as sim:
        client = boto3.client("pinpoint-sms-voice-v2", endpoint_url=sim.endpoint_url, region_name=REGION)
        message_id = client.send_text_message(
            DestinationPhoneNumber="+4917012345678",
            OriginationIdentity="+12065550100",
            MessageBody="hello",
            Context={"requestId": "r-42"},
        )["MessageId"]
        assert sim.wait_for_events(2)
    bodies: list[str] = []
    for _ in range(10):  # long polls, not sleeps: normally the first one returns both
        if len(bodies) >= 2:
            break
        received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        bodies += [message["Body"] for message in received.get("Messages", [])]
    events = sorted((parse(body) for body in bodies), key=lambda event: event.event_type)
    assert [(e.message_id, e.request_id, verdict(e).outcome) for e in events] == [
        (message_id, "r-42", Outcome.DELIVERED),
        (message_id, "r-42", None),
    ]
