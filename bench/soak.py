"""Fault-injection soak: thousands of requests through the local pipeline while everything fails.

    .venv/bin/python -m bench.soak --requests 5000

The simulator answers a share of calls with 5xx, resets, slow answers and no answers, and is down
altogether (503 to everything) for an outage several times longer than the longest retry delay;
DynamoDB throttles some calls; the outcomes topic is down for a while; function processes are
killed just before a DynamoDB write (a claim, the record of a POST's result, a release; a check's
transition, a publish's record). Producers enqueue some requests twice; as the outage begins,
probes with a validity shorter and longer than the outage are enqueued, in three waves. Time is
scaled: the retry delays are seconds, not minutes (RetryDelaysSeconds 1,2,4). At the end the
invariants are checked and printed with the figures:

- every request has exactly one distinct outcome, none is lost, none waits in the DLQ;
- no request reached the provider twice (ResendUnconfirmed=false);
- a request ends EXPIRED unsent only if its validity ended while the provider was down (during
  the outage, or before its next retry could come after it);
- during the outage a waiting request costs the provider about one POST per retry delay, not one
  per second: no request made more POSTs than its retry delays allow (for each message carrying it);
- no probe whose validity outlasts the outage ends EXPIRED unsent (a provider's own DONE TIMEOUT,
  number ending 14, is EXPIRED with a job id, and is not that);
- no probe whose validity ends within the outage was accepted by the provider. Such a probe ends
  EXPIRED, or UNKNOWN when a killed process held its claim or its POST got no answer (the outcome's
  reason tells which, and the report counts them).

With `--fallback` (FallbackProvider aws-sms, FailoverAfterSeconds `--failover-after`), the AWS SMS
simulator takes what fails over, and the invariants read across both providers:

- no request was accepted twice, counted over both simulators (Retarus's jobs and AWS's accepted
  messages);
- no short probe was accepted by Retarus (it is down), and no probe ends EXPIRED unsent: whatever
  Retarus cannot take within its validity goes through the fallback.

Exit status 0 when every invariant holds.
"""

from __future__ import annotations

import argparse
import json
import queue
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from local.chaos import ENV as CHAOS_ENV
from local.pipeline import LocalPipeline, Options
from local.simulator import RetarusSimulator
from local.stack import load_template
from sms_pipeline.outcomes import CLAIM_EXPIRED_REASON

# Last two digits → what the simulator does (local/simulator/jobs.py).
NUMBER_MIX = ["77"] * 60 + ["10", "11", "14", "15", "16", "18", "19", "20", "25"] * 4 + ["40"] * 2
RETRY_DELAYS = (1, 2, 4)  # RetryDelaysSeconds, scaled: the template's default is minutes
DEFAULT_VALIDITY_SECONDS = int(load_template()["Parameters"]["DefaultValiditySeconds"]["Default"])
PROBE_WAVES = 3
FIRST_ATTEMPT_POSTS = 3  # the first attempt retries at once (RetryPolicy.attempts); later ones POST once


def posts_allowed(seconds: float, delays: tuple[int, ...] = RETRY_DELAYS) -> int:
    """The most POSTs one request can make in `seconds` of outage: its first attempt's, then one per
    retry delay (each exactly its configured one), and one more for an attempt at either edge."""
    posts, waited, attempt = FIRST_ATTEMPT_POSTS, 0.0, 1
    while waited < seconds:
        waited += max(1, delays[min(attempt, len(delays)) - 1])
        posts += 1
        attempt += 1
    return posts + 1


@dataclass
class SoakResult:
    requests: int
    duplicates_enqueued: int
    seconds: float
    outcomes: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    provider_calls: int = 0
    lost: list[str] = field(default_factory=list)
    conflicting: list[str] = field(default_factory=list)
    sent_twice: list[str] = field(default_factory=list)
    dlq_with_outcome: list[str] = field(default_factory=list)
    dlq_and_outcome_of_duplicate: list[str] = field(default_factory=list)
    in_dlq: int = 0
    outage_seconds: float = 0.0
    expired_unsent: int = 0
    expired_out_of_outage: list[str] = field(default_factory=list)
    outage_posts: Counter[str] = field(default_factory=Counter)
    probes: Counter[str] = field(default_factory=Counter)
    long_probes_expired: list[str] = field(default_factory=list)
    short_probes_sent: list[str] = field(default_factory=list)
    enqueued_twice: set[str] = field(default_factory=set)
    repeated_publishes: int = 0
    restarts: int = 0
    fallback: bool = False
    failed_over: int = 0  # requests the fallback accepted
    probes_expired_unsent: list[str] = field(default_factory=list)  # with the fallback: none may be

    @property
    def posts_bound(self) -> int:
        return posts_allowed(self.outage_seconds)

    @property
    def hammered(self) -> list[str]:
        """Requests that made more POSTs during the outage than their retry delays allow. Each message
        waits its own delays: a request its producer enqueued twice may make twice the POSTs."""
        return sorted(
            request_id
            for request_id, posts in self.outage_posts.items()
            if posts > self.posts_bound * (2 if request_id in self.enqueued_twice else 1)
        )

    @property
    def ok(self) -> bool:
        return not (
            self.lost
            or self.conflicting
            or self.sent_twice
            or self.dlq_with_outcome
            or self.in_dlq
            or self.expired_out_of_outage
            or self.long_probes_expired
            or self.short_probes_sent
            or self.hammered
            or self.probes_expired_unsent
        )

    @property
    def accounted(self) -> int:
        """Requests with an outcome or in the DLQ, each counted once."""
        return sum(self.outcomes.values()) + self.in_dlq - len(self.dlq_and_outcome_of_duplicate)

    @property
    def fault_share(self) -> float:
        provider_faults = sum(v for k, v in self.faults.items() if k.startswith("provider_"))
        return provider_faults / self.provider_calls if self.provider_calls else 0.0

    def report(self) -> str:
        lines = [
            f"requests                     {self.requests} (+{self.duplicates_enqueued} enqueued twice)",
            f"wall time                    {self.seconds:.1f} s",
            f"provider calls               {self.provider_calls} ({self.fault_share:.1%} faulty)",
        ]
        lines += [f"fault injected: {kind:<13} {count}" for kind, count in sorted(self.faults.items())]
        lines += [
            f"function processes killed    {self.restarts}",
            f"outcomes                     {dict(sorted(self.outcomes.items()))}",
            f"repeated publishes (same id) {self.repeated_publishes}",
            f"provider outage              {self.outage_seconds:.0f} s (503 to every call; retry delays "
            f"{','.join(map(str, RETRY_DELAYS))} s)",
            f"requests POSTed in the outage {len(self.outage_posts)}, "
            f"POSTs each: mean {self._mean_outage_posts():.1f}, max {max(self.outage_posts.values(), default=0)} "
            f"(bound from the delays {self.posts_bound} a message; one per second would be "
            f"{self.outage_seconds:.0f})",
            f"EXPIRED never sent           {self.expired_unsent}",
            f"probes enqueued at the outage {dict(sorted(self.probes.items()))}",
            f"INVARIANT lost               {len(self.lost)} {self.lost[:5]}",
            f"INVARIANT conflicting        {len(self.conflicting)} {self.conflicting[:5]}",
            f"INVARIANT sent twice         {len(self.sent_twice)} {self.sent_twice[:5]}",
            f"DLQ + outcome, enqueued twice {len(self.dlq_and_outcome_of_duplicate)}"
            " (one message in the DLQ, the other ended the request)",
            f"INVARIANT DLQ with outcome   {len(self.dlq_with_outcome)} {self.dlq_with_outcome[:5]}",
            f"INVARIANT in the DLQ         {self.in_dlq}",
            f"INVARIANT EXPIRED, provider up {len(self.expired_out_of_outage)} {self.expired_out_of_outage[:5]}",
            f"INVARIANT POSTs over bound   {len(self.hammered)} {self.hammered[:5]}",
            f"INVARIANT long probe EXPIRED unsent {len(self.long_probes_expired)} {self.long_probes_expired[:5]}",
            f"INVARIANT short probe sent   {len(self.short_probes_sent)} {self.short_probes_sent[:5]}"
            + (" (by Retarus)" if self.fallback else ""),
        ]
        if self.fallback:
            lines[3:3] = [f"sent through the fallback     {self.failed_over} (AWS SMS simulator)"]
            lines.append(
                f"INVARIANT probe EXPIRED unsent {len(self.probes_expired_unsent)} {self.probes_expired_unsent[:5]}"
            )
        lines.append("RESULT                       " + ("ok" if self.ok else "VIOLATED"))
        return "\n".join(lines)

    def _mean_outage_posts(self) -> float:
        return sum(self.outage_posts.values()) / len(self.outage_posts) if self.outage_posts else 0.0


def soak(
    requests: int = 5000,
    *,
    fault_rate: float = 0.22,
    kill_rate: float = 0.002,
    throttle_rate: float = 0.02,
    sns_outage_seconds: float = 10.0,
    provider_outage_at: float = 60.0,
    provider_outage_seconds: float = 6.0 * max(RETRY_DELAYS),
    probes: int | None = None,
    kills_in_outage: bool = True,
    duplicate_share: float = 0.05,
    seed: int = 7,
    timeout: float = 1800.0,
    schedule_seconds: float = 2.0,
    backlog: int = 400,
    fallback: bool = False,
    failover_after_seconds: int = 10,
) -> SoakResult:
    rng = random.Random(seed)
    work_dir = Path(tempfile.mkdtemp(prefix="sms-soak-"))
    counts_path = work_dir / "chaos-counts.txt"
    counts_path.touch()
    simulator = RetarusSimulator(user="soak", password="soak-" + str(seed), seed=seed, latency=0.005).start()
    # The share of provider calls that fail, spread over every kind of fault.
    simulator.set_fault_rates(
        error_500=fault_rate * 0.4,
        reset=fault_rate * 0.25,
        hang=fault_rate * 0.1,
        slow=fault_rate * 0.25,
        slow_seconds=0.2,
    )
    started = time.time()
    # The windows of the outages count from when the pipeline is up (the file `start_path` says when):
    # on a slow machine its start alone can take longer than the time to the provider outage.
    start_path = work_dir / "started-at"
    outage_window = [provider_outage_at, provider_outage_at + provider_outage_seconds]
    chaos: dict[str, object] = {
        "seed": seed,
        "counts_path": str(counts_path),
        "throttle": {"dynamodb": throttle_rate},
        # The status function records ten published outcomes in one BatchWriteItem: ten times the
        # rate kills about the same share of outcomes between their publish and its record.
        "kill": {"dynamodb.UpdateItem": kill_rate, "dynamodb.BatchWriteItem": min(1.0, kill_rate * 10)},
        "start_path": str(start_path),
        "sns_outage": [5, 5 + sns_outage_seconds],
    }
    if not kills_in_outage:
        chaos["kill_pause"] = outage_window
    options = Options(
        simulator=simulator,
        # moto answers a query on an index by scanning the whole table: at thousands of items, a
        # schedule of twice a second spent moto's CPU on queries and starved the sends.
        schedule_seconds=schedule_seconds,
        check_delays="1",
        retry_delays=",".join(map(str, RETRY_DELAYS)),
        log_dir=work_dir,
        send_instances=3,
        fallback=fallback,
        failover_after_seconds=failover_after_seconds,
        function_env={
            "RETARUS_READ_TIMEOUT": "0.5",
            "RETARUS_CONNECT_TIMEOUT": "0.5",
            "PUBLISH_LEASE_SECONDS": "3",
            CHAOS_ENV: json.dumps(chaos),
        },
    )
    ids = [f"soak-{index:05d}" for index in range(requests)]
    # Probes, enqueued as the outage begins: a short validity that ends within the outage (they end
    # EXPIRED), and a long one that outlasts it (they are sent once the provider is back). Every
    # other request has the deployment's default validity, hours: it must never end EXPIRED unsent.
    probe_count = probes if probes is not None else max(10, requests // 50)
    short, long = max(5, int(provider_outage_seconds / 2)), int(provider_outage_seconds) + 600
    validity = {f"soak-probe-short-{index:03d}": short for index in range(probe_count // 2)}
    validity |= {f"soak-probe-long-{index:03d}": long for index in range(probe_count // 2)}

    def body(request_id: str) -> str:
        request = {
            "id": request_id,
            "to": f"+491701234{rng.choice(NUMBER_MIX)}",
            "text": f"soak {request_id}",
            "deliveryReport": rng.random() < 0.3,
        }
        if request_id in validity:
            request["validitySeconds"] = validity[request_id]
        return json.dumps(request)

    bodies = [body(request_id) for request_id in ids]
    # In waves, a second apart, all within the outage: probes enqueued together share one batch, and
    # one killed process would end them all alike (UNKNOWN, for a kill while they held claims).
    waves = min(PROBE_WAVES, probe_count // 2)
    spacing = min(1.0, max(0.0, provider_outage_seconds - short - 1) / waves)
    probe_waves = [  # (seconds after the pipeline is up, bodies)
        (provider_outage_at + 1 + wave * spacing, [body(request_id) for request_id in list(validity)[wave::waves]])
        for wave in range(waves)
    ]
    ids += list(validity)
    twice = [body for body in bodies if rng.random() < duplicate_share]
    outcomes: dict[str, set[str]] = defaultdict(set)
    never_sent_expired: dict[str, float] = {}  # request id → the end of its validity
    reasons: dict[str, str] = {}
    event_ids: Counter[str] = Counter()
    dlq: set[str] = set()

    with LocalPipeline(options) as pipeline:
        up = time.time()
        outage = (up + outage_window[0], up + outage_window[1])
        simulator.set_outage(*outage)
        start_path.with_suffix(".tmp").write_text(repr(up), encoding="utf-8")
        start_path.with_suffix(".tmp").replace(start_path)  # whole, never half written
        pending = bodies + twice
        rng.shuffle(pending)
        submitted: set[str] = set()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(set(outcomes) | dlq) < len(ids):
            while probe_waves and time.time() >= up + probe_waves[0][0]:
                probe_bodies = probe_waves.pop(0)[1]
                for start in range(0, len(probe_bodies), 10):
                    pipeline.submit_many(probe_bodies[start : start + 10])
            # Producers keep at most `backlog` requests open, as traffic arrives over time: moto's
            # SQS walks every message of a queue on each call, so a queue of thousands starves it.
            while pending and len(submitted) - len(submitted & (set(outcomes) | dlq)) < backlog:
                chunk, pending = pending[:10], pending[10:]
                pipeline.submit_many(chunk)
                submitted.update(json.loads(body)["id"] for body in chunk)
            try:
                notice = pipeline.notices.get(timeout=1)
            except queue.Empty:
                continue
            if notice.kind == "outcome":
                outcomes[notice.request_id].add(notice.body["outcome"])
                reasons[notice.request_id] = notice.body["reason"]
                event_ids[notice.body["eventId"]] += 1
                if notice.body["outcome"] == "EXPIRED" and notice.body["jobId"] is None:
                    requested = datetime.fromisoformat(notice.body["requestedAt"].replace("Z", "+00:00"))
                    never_sent_expired[notice.request_id] = requested.timestamp() + validity.get(
                        notice.request_id, DEFAULT_VALIDITY_SECONDS
                    )
            elif notice.kind == "dlq":
                dlq.add(notice.request_id)
        restarts = pipeline.counters["restarts"]
        aws_sms = pipeline.aws_sms
    simulator.stop()
    # With the fallback, a request is sent twice if both simulators, or one twice, accepted it.
    fallback_sends = aws_sms.sends_per_request() if aws_sms is not None else Counter()

    result = SoakResult(requests=len(ids), duplicates_enqueued=len(twice), seconds=time.time() - started)
    jobs_per_request = Counter(job.params.get("msg", "")[len("soak ") :] for job in simulator.jobs.values())
    enqueued_twice = {json.loads(body)["id"] for body in twice}
    result.enqueued_twice = enqueued_twice
    for request_id in ids:
        got = outcomes.get(request_id, set())
        if len(got) > 1:
            result.conflicting.append(request_id)
        if request_id in dlq and got:
            if request_id in enqueued_twice:
                result.dlq_and_outcome_of_duplicate.append(request_id)
            else:
                result.dlq_with_outcome.append(request_id)
        if not got and request_id not in dlq:
            result.lost.append(request_id)
        if jobs_per_request[request_id] + fallback_sends[request_id] > 1:
            result.sent_twice.append(request_id)
        for outcome in got:
            result.outcomes[outcome] += 1
    result.in_dlq = len(dlq)
    result.outage_seconds = provider_outage_seconds
    result.expired_unsent = len(never_sent_expired)
    # Down: during the outage, or its validity ended before the next retry after it could come.
    down_until = outage[1] + max(RETRY_DELAYS) + 2
    result.expired_out_of_outage = sorted(
        request_id for request_id, end in never_sent_expired.items() if not outage[0] <= end <= down_until
    )
    for request_id in validity:
        ended = "/".join(sorted(outcomes.get(request_id, ())))
        if ended == "UNKNOWN":  # why: a kill while it held a claim, or a POST left without an answer
            ended += " (interrupted)" if reasons[request_id] == CLAIM_EXPIRED_REASON else " (no answer)"
        result.probes[f"{request_id.rsplit('-', 1)[0]} → {ended}"] += 1
    result.long_probes_expired = sorted(
        request_id for request_id in validity if "long" in request_id and request_id in never_sent_expired
    )
    # A short probe's validity ends within the outage: the provider may never have accepted it.
    result.short_probes_sent = sorted(
        request_id for request_id in validity if "short" in request_id and jobs_per_request[request_id]
    )
    result.outage_posts = Counter(
        call.params.get("msg", "")[len("soak ") :]
        for call in simulator.requests
        if call.path == "/sms" and call.fault == "outage"
    )
    result.repeated_publishes = sum(count - 1 for count in event_ids.values())
    result.fallback = fallback
    result.failed_over = len(fallback_sends)
    if fallback:
        result.probes_expired_unsent = sorted(request_id for request_id in validity if request_id in never_sent_expired)
    result.provider_calls = len(simulator.requests)
    result.faults.update({f"provider_{kind}": count for kind, count in simulator.faults_injected.items()})
    result.faults.update(line for line in counts_path.read_text().splitlines() if line)
    result.restarts = restarts
    return result


def main(argv: list[str] | None = None) -> int:
    # The options are soak()'s keywords; one left out keeps soak()'s default.
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0] if __doc__ else None, argument_default=argparse.SUPPRESS
    )
    parser.add_argument("--requests", type=int)
    parser.add_argument("--fault-rate", type=float, help="share of provider calls that fail")
    parser.add_argument("--kill-rate", type=float)
    parser.add_argument("--throttle-rate", type=float)
    parser.add_argument("--sns-outage-seconds", type=float)
    parser.add_argument("--provider-outage-at", type=float, help="seconds into the run")
    parser.add_argument("--provider-outage-seconds", type=float)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--timeout", type=float)
    parser.add_argument("--schedule", type=float, dest="schedule_seconds", help="seconds between status runs")
    parser.add_argument("--fallback", action="store_true", help="FallbackProvider aws-sms (contract §12)")
    parser.add_argument(
        "--failover-after", type=int, dest="failover_after_seconds", help="FailoverAfterSeconds, with --fallback"
    )
    result = soak(**vars(parser.parse_args(argv)))
    print(result.report())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
