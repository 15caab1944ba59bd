"""`sms-local`: the pipeline on one machine (`make run`), or one SMS through it (`sms-local send`).

Real Retarus: `--retarus-url URL` with the credentials in RETARUS_USER / RETARUS_PASSWORD or in a
JSON file given by `--credentials-file` ({"user": "...", "password": "..."}); never on the command
line, where `ps` would show them.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from local.pipeline import LocalPipeline, Notice, Options

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "events" / "sample-requests.jsonl"
# The protection rules (contract §10) the samples run under, so that each rule blocks one of them
# whatever order the records are handled in: +7 is not among the prefixes; +4917012345697 is opted
# out; +4917012345695 had an SMS just before the run, so sample-blocked-rate is one more than
# MaxPerNumberPerWindow allows; sample-blocked-spend's 24 parts are more than the day's limit,
# which leaves room for the other samples' 13 parts (the ones sent, or possibly sent) and for the
# moments a duplicate or a request a rule refuses holds its parts before it gives them back.
SAMPLE_RULES = {"AllowedDestinationPrefixes": "+49,+44", "MaxPerNumberPerWindow": "1", "DailySegmentLimit": "20"}
SAMPLE_OPT_OUTS = ("+4917012345697",)
SAMPLE_RECENT_SMS = ("+4917012345695",)
# What the outcome table says of a request a rule refused: the rule, by its reason.
_BLOCKED_BY = (("destination prefix", "prefix"), ("opted out", "opt-out"), ("to this number", "rate"), ("day's", "day"))


@dataclass
class Tracked:
    request_id: str
    masked_to: str = ""
    expected: str | None = None
    submitted: float = 0.0
    outcome: str | None = None
    provider_status: str = ""
    seconds: float | None = None
    reason: str = ""
    parts: str = ""  # SMS parts and encoding (contract §9)
    send_at: float | None = None  # a scheduled sample's sendAt (§11): never sent before it
    early: bool = False

    @property
    def ok(self) -> bool:
        """`expected` may name alternatives: `SENT|DELIVERED`."""
        expected = self.expected is None or (self.outcome or "") in self.expected.split("|")
        return self.outcome is not None and expected and not self.early


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        options = _options(args)
    except ValueError as error:
        print(f"sms-local: {error}", file=sys.stderr)
        return 2
    if args.command == "send":
        request: dict[str, Any] = {"to": args.to, "text": args.text}
        for key, value in (
            ("id", args.id),
            ("from", args.sender),
            ("priority", args.priority),
            ("validitySeconds", args.validity),
        ):
            if value:
                request[key] = value
        if args.delivery_report:
            request["deliveryReport"] = True
        # What a user of `send` expects: the SMS went out. Anything else exits non-zero, with its reason.
        request["metadata"] = {"expect": "DELIVERED" if args.delivery_report else "SENT|DELIVERED"}
        return run([request], options, timeout=args.timeout, follow=False)
    requests = list(_read_jsonl(Path(args.file) if args.file else SAMPLES))
    if not args.file:
        options = replace(options, parameters=SAMPLE_RULES, opt_outs=SAMPLE_OPT_OUTS, recent_sms=SAMPLE_RECENT_SMS)
    return run(requests, options, timeout=args.timeout, follow=args.follow)


def run(requests: list[dict[str, Any] | str], options: Options, *, timeout: float, follow: bool) -> int:
    console = Console()
    live_display = console.is_terminal
    if not live_display:
        console = Console(width=140)  # a log or a pipe: no wrapping of the final table
    started = time.monotonic()
    tracked: dict[str, Tracked] = {}
    notes: list[str] = []
    stop = {"now": False}
    signal.signal(signal.SIGINT, lambda *_: stop.update(now=True))
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))

    console.print("[bold]sms-local[/bold]: starting moto, the template's resources and both functions…")
    with LocalPipeline(options) as pipeline:
        target = options.retarus_url or (pipeline.simulator.base_url if pipeline.simulator else "?")
        console.print(f"Retarus: {'simulator at ' if pipeline.simulator else ''}{target}")
        console.print(f"Function logs: {pipeline.log_dir}")
        if options.parameters:
            rules = ", ".join(f"{name}={value}" for name, value in options.parameters.items())
            console.print(f"Protection rules: {rules}; opted out: {', '.join(options.opt_outs) or 'none'}")
        if follow:  # what `sms` needs to operate this local stack from another shell
            assert pipeline.stack is not None
            operate = {
                "AWS_ENDPOINT_URL": pipeline.aws_env["AWS_ENDPOINT_URL"],
                "AWS_DEFAULT_REGION": pipeline.aws_env["AWS_REGION"],
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "SMS_QUEUE_URL": pipeline.queue_url,
                "SMS_TOPIC_ARN": pipeline.stack.output("OutcomesTopicArn"),
                "SMS_TABLE": pipeline.stack.output("JobsTableName"),
                "SMS_DLQ_URL": pipeline.dlq_url,
                "SMS_OPT_OUT_TABLE": pipeline.stack.output("OptOutTableName"),
            }
            console.print("Operate it from another shell with `sms`:", markup=False)
            console.print(
                "export " + " ".join(f"{key}={value}" for key, value in operate.items()), markup=False, soft_wrap=True
            )
        # A cancel (§11) goes on the queue once its request is stored: sent with it, in one batch,
        # it could be handled first, and a cancel before its request changes nothing.
        cancels = [request for request in requests if isinstance(request, dict) and "cancel" in request]
        for request in requests:
            if any(request is cancel for cancel in cancels):
                continue
            send_at = _schedule(request)
            request_id = pipeline.submit(request)
            entry = tracked.setdefault(request_id, Tracked(request_id, submitted=time.monotonic(), send_at=send_at))
            if isinstance(request, dict):
                entry.masked_to = _masked(request.get("to"))
                metadata = request.get("metadata")
                entry.expected = metadata.get("expect") if isinstance(metadata, dict) else None
        console.print(f"Queued {len(requests) - len(cancels)} request(s) as {len(tracked)} id(s).")

        def finished() -> bool:
            for cancel in list(cancels):  # once its request waits for its sendAt (or, failing that, later)
                if pipeline.state(str(cancel["cancel"])) == "SCHEDULED" or time.monotonic() > started + 30:
                    pipeline.submit(cancel)
                    cancels.remove(cancel)
            return not follow and all(entry.outcome for entry in tracked.values())

        deadline = started + timeout
        if live_display:
            with Live(_table(tracked, live=True), console=console, refresh_per_second=8) as live:
                while not finished() and not stop["now"] and (follow or time.monotonic() < deadline):
                    _drain(pipeline.notices, tracked, notes, None)
                    live.update(_table(tracked, live=True))
        else:
            while not finished() and not stop["now"] and (follow or time.monotonic() < deadline):
                _drain(pipeline.notices, tracked, notes, console)
        counters = dict(pipeline.counters)

    console.print(_table(tracked, live=False))
    for note in notes:
        console.print(f"[yellow]note[/yellow]: {note}")
    missing = [entry.request_id for entry in tracked.values() if entry.outcome is None]
    wrong = [entry.request_id for entry in tracked.values() if entry.outcome and not entry.ok]
    in_dlq = sum(1 for entry in tracked.values() if entry.outcome == "DLQ")
    console.print(
        f"{len(tracked) - len(missing)}/{len(tracked)} with an outcome, {in_dlq} in the DLQ, "
        f"{counters['batches']} batches ({counters['failed_records']} failed records), "
        f"{counters['status_runs']} status runs, {counters['check_batches']} batches of check timers "
        f"({counters['failed_check_timers']} failed), in {time.monotonic() - started:.1f} s"
    )
    if missing and not follow:
        console.print(f"[red]no outcome within {timeout:.0f} s[/red]: {', '.join(missing)}")
        return 1
    if wrong:
        for request_id in wrong:
            entry = tracked[request_id]
            console.print(f"[red]unexpected outcome[/red]: {escape(f'{request_id} {entry.outcome}: {entry.reason}')}")
        return 1
    return 0


def _drain(
    notices: queue.Queue[Notice], tracked: dict[str, Tracked], notes: list[str], console: Console | None
) -> None:
    try:
        notice = notices.get(timeout=0.2)
    except queue.Empty:
        return
    if notice.kind == "note":
        notes.append(notice.body.get("text", ""))
        if console:
            console.print(f"note: {notice.body.get('text', '')}")
        return
    entry = tracked.setdefault(notice.request_id, Tracked(notice.request_id, submitted=time.monotonic()))
    if entry.outcome is not None:
        return  # a repeat publish (same eventId): shown once
    entry.seconds = time.monotonic() - entry.submitted
    if notice.kind == "dlq":
        entry.outcome = "DLQ"
        entry.provider_status = "after maxReceiveCount"
    else:
        body = notice.body
        entry.outcome = str(body.get("outcome"))
        entry.reason = str(body.get("reason") or "")
        if body.get("segments") is not None:
            entry.parts = f"{body['segments']} {body.get('encoding')}" + (" smart" if body.get("smartEncoded") else "")
        entry.masked_to = str(body.get("to") or entry.masked_to)
        status = body.get("providerStatus")
        entry.provider_status = f"{status['processStatus']} {status['status']}".strip() if status else ""
        if entry.outcome == "EXPIRED" and body.get("jobId") is None:
            entry.provider_status = "never sent (validity)"
        if entry.outcome == "CANCELED" and body.get("jobId") is None:
            entry.provider_status = "never sent (cancelled)"
        submitted = body.get("submittedAt")
        if entry.send_at is not None and isinstance(submitted, str):
            entry.early = datetime.fromisoformat(submitted).timestamp() < entry.send_at
            if entry.early:
                entry.reason = f"sent at {submitted}, before its sendAt"
        if entry.outcome == "BLOCKED":
            rule = next((rule for words, rule in _BLOCKED_BY if words in entry.reason), "a rule")
            entry.provider_status = f"never sent ({rule})"
        if entry.expected is None and isinstance(body.get("metadata"), dict):
            entry.expected = body["metadata"].get("expect")
    if console:
        console.print(
            f"{entry.request_id}: {entry.outcome} {entry.provider_status} ({entry.masked_to}, {entry.seconds:.1f} s)"
        )


def _table(tracked: dict[str, Tracked], *, live: bool) -> Table:
    table = Table(title="SMS requests" if live else "Outcomes")
    for column in ("id", "to", "outcome", "provider status", "parts", "time to outcome", "expected"):
        table.add_column(column)
    for entry in tracked.values():
        if entry.outcome is None:
            outcome = "[dim]waiting…[/dim]"
        else:
            outcome = f"[green]{entry.outcome}[/green]" if entry.ok else f"[red]{entry.outcome}[/red]"
        seconds = f"{entry.seconds:.1f} s" if entry.seconds is not None else ""
        cells = (entry.request_id, entry.masked_to, outcome, entry.provider_status, entry.parts, seconds)
        table.add_row(*cells, entry.expected or "")
    return table


def _schedule(request: dict[str, Any] | str) -> float | None:
    """A sample whose metadata names `sendInSeconds` gets its sendAt that far ahead of now."""
    metadata = request.get("metadata") if isinstance(request, dict) else None
    if not isinstance(request, dict) or not isinstance(metadata, dict) or "sendInSeconds" not in metadata:
        return None
    send_at = datetime.fromtimestamp(time.time() + float(metadata["sendInSeconds"]), tz=UTC)
    request["sendAt"] = send_at.isoformat(timespec="milliseconds")
    return datetime.fromisoformat(request["sendAt"]).timestamp()


def _masked(number: Any) -> str:
    from sms_pipeline.phone import clean, mask

    cleaned = clean(number) if isinstance(number, str) else None
    return mask(cleaned) or "(invalid)"


def _read_jsonl(path: Path) -> Iterable[dict[str, Any] | str]:
    # Lines end at \n only: str.splitlines() would also split at U+2028 and other separators that a
    # JSON string may hold as they are.
    for line in path.read_text(encoding="utf-8").split("\n"):
        if line.strip():
            try:
                yield json.loads(line)
            except ValueError:
                yield line  # sent as it is: the pipeline rejects it with a reason


def _options(args: argparse.Namespace) -> Options:
    user = password = None
    if args.retarus_url:
        if args.credentials_file:
            document = json.loads(Path(args.credentials_file).read_text(encoding="utf-8"))
            user, password = document.get("user"), document.get("password")
        else:
            user, password = os.environ.get("RETARUS_USER"), os.environ.get("RETARUS_PASSWORD")
        if not user or not password:
            raise ValueError(
                "--retarus-url needs credentials: set RETARUS_USER and RETARUS_PASSWORD, "
                'or pass --credentials-file with {"user": "...", "password": "..."}'
            )
    return Options(
        retarus_url=args.retarus_url,
        retarus_user=user,
        retarus_password=password,
        schedule_seconds=args.schedule,
        check_delays=args.check_delays,
        retry_delays=args.retry_delays,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sms-local", description=__doc__.split("\n")[0] if __doc__ else None)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--retarus-url", help="the real Retarus base URL (default: the local simulator)")
    common.add_argument("--credentials-file", help='JSON file {"user": "...", "password": "..."}')
    common.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for every outcome")
    common.add_argument("--schedule", type=float, default=1.0, help="seconds between status runs")
    common.add_argument("--check-delays", default="1", help="StatusCheckDelaysSeconds for this run")
    common.add_argument("--retry-delays", default="1,2,4", help="RetryDelaysSeconds for this run")
    commands = parser.add_subparsers(dest="command")
    run_parser = commands.add_parser("run", parents=[common], help="send requests and show their outcomes")
    run_parser.add_argument("--file", help="requests, one JSON object per line (default: the samples)")
    run_parser.add_argument("--follow", action="store_true", help="keep running and print outcomes until Ctrl-C")
    send_parser = commands.add_parser("send", parents=[common], help="send one SMS and wait for its outcome")
    send_parser.add_argument("--to", required=True)
    send_parser.add_argument("--text", required=True)
    send_parser.add_argument("--id")
    send_parser.add_argument("--from", dest="sender")
    send_parser.add_argument("--priority", choices=["normal", "express"])
    send_parser.add_argument("--delivery-report", action="store_true")
    send_parser.add_argument("--validity", type=int, help="validitySeconds: how long it may wait to be sent")
    parser.set_defaults(command="run", file=None, follow=False)
    for action in common._actions:
        if action.dest != "help":
            parser.set_defaults(**{action.dest: action.default})
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
