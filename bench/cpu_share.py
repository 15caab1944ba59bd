"""A process held to the CPU share Lambda gives a function of a given memory size.

Lambda gives a function CPU in proportion to its memory: one vCPU at 1,769 MB (AWS Lambda
developer guide, "Configure Lambda function memory"), so about 0.29 of one at the 512 MB the
template sets. Here that share is a CFS quota on a cgroup of our own (v1 `cpu` controller or v2
`cpu.max`, 100 ms period), which needs root and a writable cgroup file system; where there is
none, `cpu_share_group` yields None and the bench says the figure was not measured.

An emulation: Lambda's own throttling period and its burst at init are not documented.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

MB_PER_VCPU = 1769
PERIOD_US = 100_000
_V1 = Path("/sys/fs/cgroup/cpu")
_V2 = Path("/sys/fs/cgroup")


def share_of(memory_mb: int) -> float:
    return memory_mb / MB_PER_VCPU


@contextlib.contextmanager
def cpu_share_group(share: float) -> Iterator[Path | None]:
    """A cgroup whose processes together get `share` of one CPU: yields the file to write a pid to
    (its cgroup.procs), or None where this machine does not allow one."""
    quota = max(1000, int(PERIOD_US * share))
    group = _make_group(quota)
    if group is None:
        yield None
        return
    try:
        yield group / "cgroup.procs"
    finally:
        with contextlib.suppress(OSError):
            group.rmdir()  # fails while a process is still in it; the caller waits for its processes


def home_group() -> Path | None:
    """The cgroup.procs of the CPU cgroup this process is in now: where a process that joined a
    `cpu_share_group` goes back to run unthrottled again (None where it cannot be told)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if (_V1 / "cpu.cfs_quota_us").exists():
            if "cpu" in controllers.split(","):
                return _V1 / path.lstrip("/") / "cgroup.procs"
        elif controllers == "":
            return _V2 / path.lstrip("/") / "cgroup.procs"
    return None


def _make_group(quota_us: int) -> Path | None:
    name = f"sms-bench-{os.getpid()}"
    try:
        if (_V1 / "cpu.cfs_quota_us").exists():
            group = _V1 / name
            group.mkdir(exist_ok=True)
            (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (group / "cpu.cfs_quota_us").write_text(str(quota_us))
            return group
        if "cpu" in (_V2 / "cgroup.controllers").read_text().split():
            group = _V2 / name
            group.mkdir(exist_ok=True)
            (group / "cpu.max").write_text(f"{quota_us} {PERIOD_US}")
            return group
    except OSError:
        return None
    return None
