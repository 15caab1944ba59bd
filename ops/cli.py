"""`sms`: operate a deployed pipeline (or the local one) from a shell.

Exit status: 0 done (`outcomes --follow` stopped with Ctrl-C or SIGTERM included); 1 not found (an
unknown id); 2 bad usage or an invalid request (not enqueued); 3 something to fix in the set-up: the
stack, credentials, region or endpoint (the message says what); 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import boto3

from ops.where import NotFound, OperatorError, Where, call, resolve
from sms_pipeline.cancel import InvalidCancel, cancel_from
from sms_pipeline.outcomes import iso
from sms_pipeline.phone import clean, mask
from sms_pipeline.protection import number_key
from sms_pipeline.protection_store import DynamoOptOuts
from sms_pipeline.request import InvalidRequest, echo, validate

EXAMPLES = {
    "send": """examples:
  sms --stack sms-pipeline send --to "+49 170 1234567" --text "Your code is 123456" --validity 300
  sms --stack sms-pipeline send --to "+49 170 1234567" --text "See you at 10:00" --send-at 2026-12-24T08:00:00+01:00
  SMS_QUEUE_URL=https://sqs.eu-central-1.amazonaws.com/123456789012/requests sms send --to 0170… --text hi""",
    "cancel": """examples:
  sms --stack sms-pipeline cancel order-4711:reminder
The request ends CANCELED if it is still waiting for its sendAt; otherwise nothing changes (the send
function logs why). `sms status ID` shows which.""",
    "status": """examples:
  sms --stack sms-pipeline status order-4711:otp
  sms --table sms-pipeline-JobsTable-ABC status order-4711:otp --json""",
    "outcomes": """examples:
  sms --stack sms-pipeline outcomes --follow
  sms --stack sms-pipeline outcomes --follow --outcome FAILED,EXPIRED,UNDELIVERED --json
  sms --stack sms-pipeline outcomes --outcome BLOCKED     # what the protection rules refuse
Ctrl-C (or SIGTERM) removes the temporary queue and its subscription.""",
    "dlq": """examples:
  sms --stack sms-pipeline dlq list
  sms --stack sms-pipeline dlq redrive --yes""",
    "stats": """examples:
  sms --stack sms-pipeline stats --json""",
    "optout": """examples:
  sms --stack sms-pipeline optout add "+49 170 1234567"
  sms --stack sms-pipeline optout list                  # every number on the list
  sms --stack sms-pipeline optout list 00491701234567   # is this one on it? (exit 1: no)
  sms --stack sms-pipeline optout remove +491701234567
A number is kept as the pipeline sends it, without separators and with a leading 00 written +.""",
    "local": """examples:
  sms local run                      # make run
  sms local send --to "+49 170 1234567" --text hello""",
}


def main(argv: Sequence[str] | None = None, environ: dict[str, str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["local"]:
        from local.cli import main as local_main

        return local_main(arguments[1:])
    args = _parser().parse_args(arguments)
    if args.command is None:
        _parser().print_help()
        return 2
    environ = dict(os.environ if environ is None else environ)
    try:
        where = resolve(boto3.session.Session(), vars(args), environ)
        command: Callable[[Where, argparse.Namespace], int] = COMMANDS[args.command]
        return command(where, args)
    except OperatorError as error:
        print(f"sms: {error}", file=sys.stderr)
        return OperatorError.exit_code
    except NotFound as error:
        print(f"sms: {error}", file=sys.stderr)
        return NotFound.exit_code
    except KeyboardInterrupt:  # outcomes --follow stops on Ctrl-C itself, and exits 0
        print("sms: interrupted", file=sys.stderr)
        return 130


# --- send ------------------------------------------------------------------------------------------


def send(where: Where, args: argparse.Namespace) -> int:
    document: dict[str, Any] = {"to": args.to, "text": args.text}
    optional = {
        "id": args.id,
        "from": args.sender,
        "reference": args.reference,
        "priority": args.priority,
        "validitySeconds": args.validity,
        "maxSegments": args.max_segments,
        "sendAt": args.send_at,
    }
    document.update({key: value for key, value in optional.items() if value is not None})
    if args.delivery_report:
        document["deliveryReport"] = True
    if args.smart_encoding:
        document["smartEncoding"] = True
    try:
        validate(document, "(the SQS message id)")  # the send function's own rules
    except InvalidRequest as invalid:
        print(f"sms: invalid request, not enqueued: {invalid}", file=sys.stderr)
        return 2
    sqs = where.client("sqs")
    queue_url = where.need("queue_url")
    sent = call(lambda: sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(document, ensure_ascii=False)))
    print(document.get("id") or sent["MessageId"])
    return 0


# --- cancel ----------------------------------------------------------------------------------------


def cancel(where: Where, args: argparse.Namespace) -> int:
    """A cancel message on the request queue: the send function applies it, in order with the
    requests it reads, with the conditional write that also decides a race with the send."""
    document = {"cancel": args.id}
    try:
        cancel_from(document)  # the send function's own rules
    except InvalidCancel as invalid:
        print(f"sms: invalid cancel, not enqueued: {invalid}", file=sys.stderr)
        return 2
    sqs = where.client("sqs")
    queue_url = where.need("queue_url")
    call(lambda: sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(document)))
    print(f"cancel of {args.id} enqueued: it ends CANCELED if it is still waiting for its sendAt", file=sys.stderr)
    return 0


# --- status ----------------------------------------------------------------------------------------


def status(where: Where, args: argparse.Namespace) -> int:
    from sms_pipeline.dynamodb import codec
    from sms_pipeline.job import State

    dynamodb = where.client("dynamodb")
    table = where.need("table")
    found = call(lambda: dynamodb.get_item(TableName=table, Key={codec.ID: {"S": args.id}}, ConsistentRead=True))
    if "Item" not in found:
        raise NotFound(f"no request with id {args.id!r} in table {table} (never received, or its record expired)")
    job = codec.decode(found["Item"])
    final = job.final
    record = {
        "id": job.origin.id,
        "state": job.state.value,
        "outcome": final.outcome.value if final else None,
        "reason": final.reason if final else None,
        "jobId": job.job_id,
        "to": job.origin.masked_to,
        "attempts": job.attempts or 0,
        "checks": job.checks,
        "lastError": job.last_error,
        "encoding": job.origin.encoding,
        "segments": job.origin.segments,
        "requestedAt": iso(job.origin.requested_at),
        "sendAt": iso(job.origin.send_at),
        "submittedAt": iso(job.submitted_at),
        "completedAt": iso(final.completed_at) if final else None,
        "nextCheckAt": iso(job.due_at / 1000) if job.state is State.TRACKING and job.due_shard is not None else None,
    }
    if args.json:
        print(json.dumps(record, ensure_ascii=False))
    else:
        width = max(map(len, record))
        for key, value in record.items():
            print(f"{key:<{width}}  {'' if value is None else value}")
    return 0


# --- outcomes --------------------------------------------------------------------------------------


def outcomes(where: Where, args: argparse.Namespace) -> int:
    """A temporary queue subscribed to the topic, one line per event; removed on Ctrl-C or SIGTERM."""
    sqs, sns = where.client("sqs"), where.client("sns")
    topic_arn = where.need("topic_arn")
    wanted = [name.strip().upper() for name in (args.outcome or "").split(",") if name.strip()]
    name = f"sms-outcomes-{uuid.uuid4().hex[:12]}"
    queue_url = call(lambda: sqs.create_queue(QueueName=name, Attributes={"SqsManagedSseEnabled": "true"}))["QueueUrl"]
    subscription: str | None = None
    stop = {"now": False}
    previous = {sig: signal.signal(sig, lambda *_: stop.update(now=True)) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        queue_arn = call(lambda: sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"]))
        queue_arn = queue_arn["Attributes"]["QueueArn"]
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
                }
            ],
        }
        call(lambda: sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)}))
        attributes = {"RawMessageDelivery": "true"}
        if wanted:
            attributes["FilterPolicy"] = json.dumps({"outcome": wanted})
        subscription = call(
            lambda: sns.subscribe(
                TopicArn=topic_arn,
                Protocol="sqs",
                Endpoint=queue_arn,
                Attributes=attributes,
                ReturnSubscriptionArn=True,
            )
        )["SubscriptionArn"]
        print(f"following {topic_arn}{' for ' + ','.join(wanted) if wanted else ''}; Ctrl-C to stop", file=sys.stderr)
        while not stop["now"]:
            received = call(lambda: sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1))
            for message in received.get("Messages", []):
                _print_event(json.loads(message["Body"]), as_json=args.json)
                call(
                    lambda message=message: sqs.delete_message(
                        QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"]
                    )
                )
        return 0
    finally:
        if subscription:
            call(lambda: sns.unsubscribe(SubscriptionArn=subscription))
        call(lambda: sqs.delete_queue(QueueUrl=queue_url))
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        print("removed the temporary queue and its subscription", file=sys.stderr)


def _print_event(event: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(event, ensure_ascii=False), flush=True)
        return
    status_ = event.get("providerStatus") or {}
    detail = f"{status_.get('processStatus', '')} {status_.get('status', '')}".strip()
    print(
        f"{event.get('completedAt')}  {event.get('id')}  {event.get('outcome')}  {event.get('to') or ''}  "
        f"{detail or event.get('reason', '')}",
        flush=True,
    )


# --- dlq -------------------------------------------------------------------------------------------


def dlq(where: Where, args: argparse.Namespace) -> int:
    sqs = where.client("sqs")
    dlq_url = where.need("dlq_url")
    if args.action == "list":
        messages = _peek(sqs, dlq_url)
        rows = [_dlq_row(message) for message in messages]
        if args.json:
            for row in rows:
                print(json.dumps(row))
        else:
            for row in rows:
                print(
                    f"{row['id']}  {row['to'] or '(no number)'}  received {row['receiveCount']}×  sent {row['sentAt']}"
                )
            print(f"{len(rows)} message(s) in the dead-letter queue", file=sys.stderr)
        return 0
    if not args.yes:
        print("sms: dlq redrive moves every message back to the request queue; add --yes to do it", file=sys.stderr)
        return 2
    queue_url = where.need("queue_url")
    moved = 0
    while True:
        received = call(
            lambda: sqs.receive_message(
                QueueUrl=dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=60, MessageAttributeNames=["All"]
            )
        )
        batch = received.get("Messages", [])
        if not batch:
            break
        for message in batch:
            call(lambda message=message: sqs.send_message(QueueUrl=queue_url, MessageBody=message["Body"]))
            call(lambda message=message: sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"]))
            moved += 1
    print(f"moved {moved} message(s) back to the request queue")
    return 0


def _peek(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every message of the queue, seen once each, and visible again at once after."""
    seen: dict[str, dict[str, Any]] = {}
    handles: list[tuple[str, str]] = []
    for _ in range(100):  # at most 1,000 messages
        received = call(
            lambda: sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=30, AttributeNames=["All"]
            )
        )
        batch = [message for message in received.get("Messages", []) if message["MessageId"] not in seen]
        if not batch:
            break
        for message in batch:
            seen[message["MessageId"]] = message
            handles.append((message["MessageId"], message["ReceiptHandle"]))
    for start in range(0, len(handles), 10):
        entries = [
            {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": 0}
            for index, (_, handle) in enumerate(handles[start : start + 10])
        ]
        call(lambda entries=entries: sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries))
    return list(seen.values())


def _dlq_row(message: dict[str, Any]) -> dict[str, Any]:
    """What the DLQ says of a request: its id and masked number, never its text."""
    request = echo(message["Body"], message["MessageId"])
    attributes = message.get("Attributes", {})
    return {
        "id": request.id,
        "to": mask(request.to),
        "receiveCount": int(attributes.get("ApproximateReceiveCount", 0)),
        "sentAt": iso(int(attributes["SentTimestamp"]) / 1000) if "SentTimestamp" in attributes else None,
        "messageId": message["MessageId"],
    }


# --- stats -----------------------------------------------------------------------------------------


def stats(where: Where, args: argparse.Namespace) -> int:
    """The index holds what is due and what waits (TRACKING's next checks, SCHEDULED's put-backs):
    a scan reads all of it either way (a filter is applied after the read), so it is read whole and
    the scheduled requests are counted apart from the due jobs."""
    from sms_pipeline.dynamodb.codec import DUE_AT, DUE_INDEX, STATE
    from sms_pipeline.job import State

    sqs, dynamodb = where.client("sqs"), where.client("dynamodb")
    queue_url, dlq_url, table = where.need("queue_url"), where.need("dlq_url"), where.need("table")
    now = time.time()
    due, scheduled, oldest = 0, 0, None
    paginator = dynamodb.get_paginator("scan")
    pages = call(
        lambda: list(
            paginator.paginate(
                TableName=table,
                IndexName=DUE_INDEX,
                ProjectionExpression=f"{DUE_AT}, #state",
                ExpressionAttributeNames={"#state": STATE},
            )
        )
    )
    for page in pages:
        for item in page.get("Items", []):
            due_at = int(item[DUE_AT]["N"]) / 1000
            if item.get(STATE, {}).get("S") == State.SCHEDULED.value:
                scheduled += 1
            elif due_at <= now:
                due += 1
                oldest = due_at if oldest is None else min(oldest, due_at)
    queue, dead = _depth(sqs, queue_url), _depth(sqs, dlq_url)
    age = round(now - oldest, 1) if oldest is not None else None
    if args.json:
        figures = {"queue": queue, "deadLetterQueue": dead, "dueJobs": due, "oldestDueSeconds": age}
        print(json.dumps({**figures, "scheduled": scheduled}))
    else:
        print(f"request queue      {queue['waiting']} waiting, {queue['inFlight']} in flight or waiting a retry delay")
        print(f"dead-letter queue  {dead['waiting']} waiting")
        print(f"due jobs           {due}" + (f", the oldest due {age} s ago" if age is not None else ""))
        print(f"scheduled          {scheduled} waiting for their sendAt")
    return 0


def _depth(sqs: Any, queue_url: str) -> dict[str, int]:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = call(lambda: sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names))["Attributes"]
    return {"waiting": int(attributes[names[0]]), "inFlight": int(attributes[names[1]])}


# --- optout ----------------------------------------------------------------------------------------


def optout(where: Where, args: argparse.Namespace) -> int:
    """The opt-out list (contract §10): a number on it is BLOCKED, never sent."""
    number = None
    if args.number is not None:
        cleaned = clean(args.number)
        if cleaned is None:
            print(f"sms: {args.number!r} is not a phone number", file=sys.stderr)
            return 2
        number = number_key(cleaned)
    elif args.action != "list":
        print(f"sms: optout {args.action} needs a NUMBER", file=sys.stderr)
        return 2
    table = DynamoOptOuts(where.client("dynamodb"), where.need("opt_out_table"))
    if args.action == "add":
        assert number is not None
        added = call(lambda: table.add(number))
        print(f"{number} {'added to' if added else 'is already on'} the opt-out list")
        return 0
    if args.action == "remove":
        assert number is not None
        if not call(lambda: table.remove(number)):
            raise NotFound(f"{number} is not on the opt-out list")
        print(f"{number} removed from the opt-out list")
        return 0
    rows = [
        {"number": found, "addedAt": iso(added)}
        for found, added in call(lambda: sorted(table.numbers()))
        if number is None or found == number
    ]
    if number is not None and not rows:
        raise NotFound(f"{number} is not on the opt-out list")
    for row in rows:
        print(json.dumps(row) if args.json else f"{row['number']}  added {row['addedAt'] or '?'}")
    if number is None and not args.json:
        print(f"{len(rows)} number(s) on the opt-out list", file=sys.stderr)
    return 0


COMMANDS: dict[str, Callable[[Where, argparse.Namespace], int]] = {
    "send": send,
    "cancel": cancel,
    "status": status,
    "outcomes": outcomes,
    "dlq": dlq,
    "stats": stats,
    "optout": optout,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sms",
        description="Operate the SMS pipeline: send, cancel, follow outcomes, look a request up, the DLQ, figures, "
        "opt-outs.",
        epilog=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--stack", help="the stack's name: its outputs name the resources (or SMS_STACK)")
    parser.add_argument("--queue-url", help="the request queue (or SMS_QUEUE_URL)")
    parser.add_argument("--topic-arn", help="the outcomes topic (or SMS_TOPIC_ARN)")
    parser.add_argument("--table", help="the jobs table (or SMS_TABLE)")
    parser.add_argument("--dlq-url", help="the dead-letter queue (or SMS_DLQ_URL; default: the queue's redrive target)")
    parser.add_argument("--opt-out-table", help="the opt-out list's table (or SMS_OPT_OUT_TABLE)")
    commands = parser.add_subparsers(dest="command", metavar="{send,cancel,status,outcomes,dlq,stats,optout,local}")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name,
            help=text,
            description=text,
            epilog=EXAMPLES[name],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    sending = command("send", "validate one SMS request with the send function's rules and enqueue it; prints its id")
    sending.add_argument("--to", required=True)
    sending.add_argument("--text", required=True)
    sending.add_argument("--id")
    sending.add_argument("--from", dest="sender")
    sending.add_argument("--reference")
    sending.add_argument("--priority", choices=["normal", "express"])
    sending.add_argument("--delivery-report", action="store_true")
    sending.add_argument("--validity", type=int, help="validitySeconds (5-345600)")
    sending.add_argument("--max-segments", type=int, help="maxSegments (1-30)")
    sending.add_argument("--smart-encoding", action="store_true")
    sending.add_argument(
        "--send-at", help="sendAt: not before this time, ISO 8601 with its offset or Z (at most 35 days ahead)"
    )
    cancelling = command("cancel", "cancel a request that waits for its sendAt: it ends CANCELED")
    cancelling.add_argument("id")
    looking = command("status", "the request as the table knows it")
    looking.add_argument("id")
    looking.add_argument("--json", action="store_true")
    following = command("outcomes", "print outcome events as they arrive (through a temporary queue)")
    following.add_argument("--follow", action="store_true", help="keep following until Ctrl-C (the default)")
    following.add_argument("--outcome", help="only these outcomes, comma-separated (an SNS filter policy)")
    following.add_argument("--json", action="store_true", help="one JSON event per line")
    dead = command("dlq", "the dead-letter queue: list it (ids and masked numbers, never the text) or redrive it")
    dead.add_argument("action", choices=["list", "redrive"])
    dead.add_argument("--json", action="store_true")
    dead.add_argument("--yes", action="store_true", help="redrive: yes, move every message back")
    figures = command("stats", "queue depth, DLQ depth, due jobs, the oldest due job's age, scheduled requests")
    figures.add_argument("--json", action="store_true")
    opting = command("optout", "the opt-out list: numbers that are BLOCKED, never sent (add, remove, list)")
    opting.add_argument("action", choices=["add", "remove", "list"])
    opting.add_argument("number", nargs="?", help="a phone number, written as in a request's `to`")
    opting.add_argument("--json", action="store_true", help="list: one JSON object per line")
    commands.add_parser(
        "local",
        help="the local pipeline (sms-local): sms local run, sms local send …",
        epilog=EXAMPLES["local"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        add_help=False,
    )
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
