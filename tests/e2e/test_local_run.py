"""`make run`'s entry point, run as a user runs it: the console script, in its own process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SMS_LOCAL = Path(sys.executable).parent / "sms-local"


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SMS_LOCAL), *args, "--schedule", "0.5"],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        check=False,
    )


def rows(output: str) -> dict[str, list[str]]:
    """The final table's rows by id: [to, outcome, provider, provider status, parts, time, expected]."""
    table = output[output.index("Outcomes") :]
    found = {}
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip().split("│")[1:-1]]
        if len(cells) == 8 and cells[0] and cells[0] != "id":
            found[cells[0]] = cells[1:]
    return found


def test_default_run_gives_every_sample_its_expected_outcome() -> None:
    done = run("run")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [json.loads(line) for line in (ROOT / "events" / "sample-requests.jsonl").read_text().splitlines()]
    samples = [line for line in lines if "cancel" not in line]  # a cancel message is no request
    table = rows(done.stdout)
    assert set(table) == {sample["id"] for sample in samples}
    for sample in samples:
        outcome, expected = table[sample["id"]][1], sample["metadata"]["expect"]
        assert outcome == expected, sample["id"]
    # Every outcome of the contract shows up, and none waits in the DLQ (contract §8): one request
    # waited out the provider's refusals and was sent, the other's validity ended first.
    assert {row[1] for row in table.values()} == {
        "DELIVERED", "SENT", "UNDELIVERED", "FAILED", "EXPIRED", "CANCELED", "UNKNOWN", "REJECTED", "BLOCKED",
    }  # fmt: skip
    # Each protection rule (contract §10) refused one sample, which was never sent.
    assert [table[f"sample-blocked-{rule}"][3] for rule in ("prefix", "opt-out", "rate", "spend")] == [
        "never sent (prefix)", "never sent (opt-out)", "never sent (rate)", "never sent (day)",
    ]  # fmt: skip
    assert "0 in the DLQ" in done.stdout
    assert table["sample-outage-expired"][3] == "never sent (validity)"
    assert table["sample-expired"][3] == "DONE TIMEOUT"
    assert table["sample-expired"][2] == "retarus" and table["sample-invalid"][2] == ""
    # Scheduled sending (contract §11): sent once its sendAt (5 s after it was queued) had come, and
    # not before (the run fails a scheduled sample sent early); the other cancelled while it waited.
    assert float(table["sample-scheduled"][5].removesuffix(" s")) >= 5
    assert (table["sample-cancelled"][1], table["sample-cancelled"][3]) == ("CANCELED", "never sent (cancelled)")
    # The parts each text took (contract §9): one emoji makes UCS-2; smart encoding replaced the
    # typographic apostrophe, dash and ellipsis, so that the text went as GSM-7.
    assert table["sample-sent"][4] == "1 GSM-7" and table["sample-express"][4] == "1 UCS-2"
    assert table["sample-long"][4] == "2 GSM-7" and table["sample-smart"][4] == "1 GSM-7 smart"
    # Masked numbers only; the message text never appears.
    assert "+4917012345678" not in done.stdout and "Your code is" not in done.stdout


def test_a_retarus_outage_with_the_fallback_on_fails_over_beside_one_that_waits() -> None:
    """make run's second part (contract §12): Retarus refuses two requests every time, and the
    fallback sends them (one after FailoverAfterSeconds, one at once since its validity would end
    before its next retry); a third, refused four times, is taken by Retarus within the delay."""
    done = run("run", "--fallback", "--file", "events/sample-failover.jsonl")
    assert done.returncode == 0, done.stdout + done.stderr
    table = rows(done.stdout)
    assert table["failover-delivered"][1:3] == ["DELIVERED", "aws-sms"]
    assert table["failover-short"][1:3] == ["DELIVERED", "aws-sms"]
    assert table["failover-waits"][1:3] == ["SENT", "retarus"]
    assert "0 in the DLQ" in done.stdout


def test_send_subcommand_sends_one_sms(tmp_path: Path) -> None:
    done = run("send", "--to", "+49 170 1234567", "--text", "hello", "--id", "cli-1", "--delivery-report")
    assert done.returncode == 0, done.stdout + done.stderr
    assert rows(done.stdout)["cli-1"][1] == "DELIVERED"


def test_send_of_an_invalid_request_shows_its_reason_and_fails() -> None:
    done = run("send", "--to", "call me maybe", "--text", "hello", "--id", "cli-bad")
    assert done.returncode == 1, done.stdout + done.stderr
    assert rows(done.stdout)["cli-bad"][1] == "REJECTED"
    assert "cli-bad REJECTED: to: must be a phone number" in " ".join(done.stdout.split())


def test_a_line_of_the_file_is_split_only_at_a_newline(tmp_path: Path) -> None:
    """A JSON string may hold U+2028 (LINE SEPARATOR) as it is; str.splitlines() would split there."""
    requests = tmp_path / "requests.jsonl"
    requests.write_text('{"id": "ls-1", "to": "+4917012345677", "text": "a\u2028b"}\n', encoding="utf-8")
    assert "\u2028" in requests.read_text(encoding="utf-8")
    done = run("run", "--file", str(requests))
    assert done.returncode == 0, done.stdout + done.stderr
    assert {key: row[1] for key, row in rows(done.stdout).items()} == {"ls-1": "SENT"}


def test_file_of_requests(tmp_path: Path) -> None:
    requests = tmp_path / "requests.jsonl"
    requests.write_text(
        '{"id": "f-1", "to": "+4917012345677", "text": "a"}\n'
        "not json at all\n"
        '{"id": "f-3", "to": "+4917012345610", "text": "c"}\n'
    )
    done = run("run", "--file", str(requests))
    assert done.returncode == 0, done.stdout + done.stderr
    table = rows(done.stdout)
    assert table["f-1"][1] == "SENT" and table["f-3"][1] == "FAILED"
    assert [row[1] for key, row in table.items() if key not in ("f-1", "f-3")] == ["REJECTED"]


def test_real_endpoint_needs_credentials_from_env_or_file() -> None:
    done = subprocess.run(
        [str(SMS_LOCAL), "run", "--retarus-url", "https://sms4a.retarus.com/httpsimple/v1"],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 2
    assert "RETARUS_USER" in done.stderr and "--credentials-file" in done.stderr


def test_follow_prints_outcomes_as_they_come_and_ctrl_c_stops_cleanly(tmp_path: Path) -> None:
    import os
    import signal
    import threading

    requests = tmp_path / "one.jsonl"
    requests.write_text('{"id": "follow-1", "to": "+4917012345677", "text": "a"}\n')
    process = subprocess.Popen(
        [str(SMS_LOCAL), "run", "--follow", "--file", str(requests), "--schedule", "0.5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    watchdog = threading.Timer(90, process.kill)  # a hung pipeline fails the test instead of hanging it
    watchdog.start()
    seen = []
    for line in process.stdout:
        seen.append(line)
        if line.startswith("follow-1: SENT"):
            break
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=60)
    watchdog.cancel()
    assert process.returncode == 0, "".join(seen) + rest
    assert "Outcomes" in rest and "follow-1" in rest
