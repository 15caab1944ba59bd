"""The status function's schedule event, read at the edge as the send handler reads its records.

The schedule's input may name the due-index shards a run takes (`{"shards": [0, 1]}`), so that
several schedules share the work of one minute (docs/scaling.md, 1,000×); without it a run takes
every shard. A wrong input is the deployment's mistake, so it says what to fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sms_pipeline.config import ConfigError


def shards(event: Mapping[str, Any], shard_count: int) -> tuple[int, ...] | None:
    """The shards the event names, or None for all of them (DueIndexShards is `shard_count`)."""
    if "shards" not in event:
        return None
    named = event["shards"]
    valid = range(shard_count)
    if (
        not isinstance(named, list)
        or not named
        or not all(type(shard) is int and shard in valid for shard in named)
        or len(set(named)) != len(named)
    ):
        raise ConfigError(
            f'the status schedule\'s input "shards" must be a list of distinct shard numbers from 0 to'
            f" {shard_count - 1} (DueIndexShards is {shard_count}); it is {named!r}"
        )
    return tuple(named)
