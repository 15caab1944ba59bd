"""Fault-injection soak: thousands of requests through the local pipeline while everything fails.

    .venv/bin/python -m bench.soak --requests 5000

The simulator answers a share of calls with 5xx, resets, slow answers and no answers; DynamoDB
throttles some calls; the outcomes topic is down for a while; function processes are killed just
before they record a POST's result or a publish. Producers enqueue some requests twice. At the end
the invariants are checked and printed with the figures:

- every request has exactly one distinct outcome, or sits in the DLQ (and then has none, unless a
  producer enqueued it twice: one message may exhaust its receives into the DLQ while the other,
  delivered later, ends the request; that is counted, not a violation);
- no request reached the provider twice (ResendUnconfirmed=false);
- no outcome was lost.

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
from pathlib import Path

from local.chaos import ENV as CHAOS_ENV
from local.pipeline import LocalPipeline, Options
from local.simulator import RetarusSimulator

# Last two digits → what the simulator does (local/simulator.py); 50 fails every POST (→ DLQ).
NUMBER_MIX = ["77"] * 60 + ["10", "11", "14", "15", "16", "18", "19", "20", "25"] * 4 + ["40"] * 2 + ["50"]


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
    repeated_publishes: int = 0
    restarts: int = 0

    @property
    def ok(self) -> bool:
        return not (self.lost or self.conflicting or self.sent_twice or self.dlq_with_outcome)

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
            f"in the DLQ                   {self.in_dlq}",
            f"repeated publishes (same id) {self.repeated_publishes}",
            f"INVARIANT lost               {len(self.lost)} {self.lost[:5]}",
            f"INVARIANT conflicting        {len(self.conflicting)} {self.conflicting[:5]}",
            f"INVARIANT sent twice         {len(self.sent_twice)} {self.sent_twice[:5]}",
            f"DLQ + outcome, enqueued twice {len(self.dlq_and_outcome_of_duplicate)}"
            " (one message in the DLQ, the other ended the request)",
            f"INVARIANT DLQ with outcome   {len(self.dlq_with_outcome)} {self.dlq_with_outcome[:5]}",
            "RESULT                       " + ("ok" if self.ok else "VIOLATED"),
        ]
        return "\n".join(lines)


def soak(
    requests: int = 5000,
    *,
    fault_rate: float = 0.22,
    kill_rate: float = 0.002,
    throttle_rate: float = 0.02,
    outage_seconds: float = 10.0,
    duplicate_share: float = 0.05,
    seed: int = 7,
    timeout: float = 1800.0,
    schedule_seconds: float = 2.0,
    backlog: int = 400,
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
    chaos = {
        "seed": seed,
        "counts_path": str(counts_path),
        "throttle": {"dynamodb": throttle_rate},
        # The status function records ten published outcomes in one BatchWriteItem: ten times the
        # rate kills about the same share of outcomes between their publish and its record.
        "kill": {"dynamodb.UpdateItem": kill_rate, "dynamodb.BatchWriteItem": min(1.0, kill_rate * 10)},
        "sns_outage": [started + 5, started + 5 + outage_seconds],
    }
    options = Options(
        simulator=simulator,
        # moto answers a query on an index by scanning the whole table: at thousands of items, a
        # schedule of twice a second spent moto's CPU on queries and starved the sends.
        schedule_seconds=schedule_seconds,
        check_delays="1",
        log_dir=work_dir,
        send_instances=3,
        function_env={
            "RETARUS_READ_TIMEOUT": "0.5",
            "RETARUS_CONNECT_TIMEOUT": "0.5",
            "PUBLISH_LEASE_SECONDS": "3",
            CHAOS_ENV: json.dumps(chaos),
        },
    )
    ids = [f"soak-{index:05d}" for index in range(requests)]
    bodies = [
        json.dumps(
            {
                "id": request_id,
                "to": f"+491701234{rng.choice(NUMBER_MIX)}",
                "text": f"soak {request_id}",
                "deliveryReport": rng.random() < 0.3,
            }
        )
        for request_id in ids
    ]
    twice = [body for body in bodies if rng.random() < duplicate_share]
    outcomes: dict[str, set[str]] = defaultdict(set)
    event_ids: Counter[str] = Counter()
    dlq: set[str] = set()

    with LocalPipeline(options) as pipeline:
        pending = bodies + twice
        rng.shuffle(pending)
        submitted: set[str] = set()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(set(outcomes) | dlq) < requests:
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
                event_ids[notice.body["eventId"]] += 1
            elif notice.kind == "dlq":
                dlq.add(notice.request_id)
        restarts = pipeline.counters["restarts"]
    simulator.stop()

    result = SoakResult(requests=requests, duplicates_enqueued=len(twice), seconds=time.time() - started)
    jobs_per_request = Counter(job.params.get("msg", "")[len("soak ") :] for job in simulator.jobs.values())
    enqueued_twice = {json.loads(body)["id"] for body in twice}
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
        if jobs_per_request[request_id] > 1:
            result.sent_twice.append(request_id)
        for outcome in got:
            result.outcomes[outcome] += 1
    result.in_dlq = len(dlq)
    result.repeated_publishes = sum(count - 1 for count in event_ids.values())
    result.provider_calls = len(simulator.requests)
    result.faults.update({f"provider_{kind}": count for kind, count in simulator.faults_injected.items()})
    result.faults.update(line for line in counts_path.read_text().splitlines() if line)
    result.restarts = restarts
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--fault-rate", type=float, default=0.22, help="share of provider calls that fail")
    parser.add_argument("--kill-rate", type=float, default=0.002)
    parser.add_argument("--throttle-rate", type=float, default=0.02)
    parser.add_argument("--outage-seconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--schedule", type=float, default=2.0, help="seconds between status runs")
    args = parser.parse_args(argv)
    result = soak(
        args.requests,
        fault_rate=args.fault_rate,
        kill_rate=args.kill_rate,
        throttle_rate=args.throttle_rate,
        outage_seconds=args.outage_seconds,
        seed=args.seed,
        timeout=args.timeout,
        schedule_seconds=args.schedule,
    )
    print(result.report())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
