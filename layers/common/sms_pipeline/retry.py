"""When a request that could not be sent is tried again, and how it ends if it never is (contract §8).

Pure policy: the send use case asks for the delay of a failed attempt and the handler's batch
processor applies it to the SQS message (its visibility). Growing delays make an outage cost the
provider about one POST per request per delay, instead of one per queue timeout; the delay is cut
short at the request's validity, so its EXPIRED outcome comes when the validity ends, not one long
delay later.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

# SQS takes a visibility timeout of at most 12 hours from the message's receipt; the function sets
# it up to its own timeout after the receipt.
MAX_DELAY_SECONDS = 43_200 - 60


def retry_delay(delays: Sequence[int], receive_count: int, *, seconds_left: float) -> int:
    """Seconds until the next attempt of a request whose attempt number `receive_count` (SQS's
    ApproximateReceiveCount, from 1) failed: exactly that attempt's delay (the last repeats; contract
    §8), at most what SQS accepts, and never past the end of the validity."""
    delay = min(delays[min(max(receive_count, 1), len(delays)) - 1], MAX_DELAY_SECONDS)
    if seconds_left <= 0:
        # Past the validity already (another delivery of it holds a live claim): nothing to cut the
        # delay short for, and a delay of 0 would spin the message through its receives.
        return delay
    return min(delay, math.ceil(seconds_left))


def expired_reason(validity_seconds: int, last_error: str | None) -> str:
    """The reason of an EXPIRED outcome for a request that was never sent."""
    reason = f"not sent within its validity of {validity_seconds} s"
    return f"{reason}; last error: {last_error}" if last_error else reason
