"""The job store: one DynamoDB item per request id, from the claim before the POST to the outcome.

Why the item looks the way it does:
- The id is claimed with a conditional write *before* POST /sms, so however often SQS delivers a
  request, or a producer enqueues it, only one invocation ever sends it (contract §2).
- Work still to do (a status check, an outcome to publish) is expressed by two attributes,
  `dueShard` and `dueAt`, that exist only while there is work: the `due` index is sparse, so the
  status function queries exactly the due items and its reads do not grow with the table. The shard
  spreads writes over several index partitions at high volume.
- Every transition is conditional on the state (and on `dueAt`, which doubles as a version), so two
  overlapping status runs cannot both publish the same outcome. One write is not: the last, DONE,
  after the publish. It is made by the holder of the publish lease, whose conditional write just
  proved the item it read is current, and a run publishes up to ten outcomes at once, so their
  DONE records go in one BatchWriteItem (which takes no conditions) instead of ten UpdateItems.
- `expiresAt` is the TTL: records outlive the tracking limit by the retention period, long enough
  to catch a producer's late duplicate, then DynamoDB deletes them.

The states and their transitions are the job's (job.py); the item's attributes are the codec's
(codec.py). This module is the DynamoDB access only.

The send function validates the request and reads the credentials before it claims, so nothing
that can stall lies between the claim and the POST: a claim that expired belongs to an invocation
that died after its POST may have reached the provider, and the ResendUnconfirmed policy decides.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from sms_pipeline.dynamodb import codec
from sms_pipeline.dynamodb.codec import (
    ATTEMPTS,
    BODY,
    CHECKS,
    CLAIM_TOKEN,
    CLAIM_UNTIL,
    DUE_AT,
    DUE_SHARD,
    FIRST_ATTEMPT_AT,
    ID,
    JOB_ID,
    LAST_ERROR,
    MESSAGE_ID,
    PROVIDER,
    REQUESTED_AT,
    SEND_AT,
    STATE,
    SUBMITTED_AT,
    TIMER_AT,
    UNCONFIRMED,
    millis,
    num,
    serialize,
)
from sms_pipeline.job import ClaimResult, Delivery, Final, Job, Origin, State
from sms_pipeline.outcomes import PRIMARY_PROVIDER

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

# BatchWriteItem takes at most 25 puts; what DynamoDB leaves unprocessed (throttling) is sent again
# this many times, after 50, 100, 200 ms.
BATCH_WRITE_LIMIT = 25
BATCH_GET_LIMIT = 100  # BatchGetItem takes at most 100 keys
UNPROCESSED_RETRIES = 3


def query_threads(shards: int) -> int:
    """Threads that query the due index's shards at once, at the start of a status run."""
    return min(shards, 16)


class JobStore:
    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        index_name: str,
        shards: int,
        retention_seconds: int,
        tracking_limit_seconds: int,
    ) -> None:
        self._client = client
        self._table = table_name
        self._index = index_name
        self._shards = shards
        self._lifetime = tracking_limit_seconds + retention_seconds
        self._query_pool = ThreadPoolExecutor(max_workers=query_threads(shards), thread_name_prefix="due")

    # --- send path -------------------------------------------------------------------------------

    def claim(
        self,
        origin: Origin,
        delivery: Delivery,
        *,
        now: float,
        requested_after: float,
        provider: str = PRIMARY_PROVIDER,
    ) -> tuple[ClaimResult, Job]:
        """Claim the request id for one POST; GRANTED only to the first delivery (or after a release).

        The `delivery` is the claim itself: its message, its own token, its end (job.Delivery). A live
        claim of the same message is IN_FLIGHT, not a duplicate to acknowledge: were the holder to
        die, deleting this copy would leave no message to try the request again. A claim is EXPIRED
        once `claimUntil` has passed, which is after the holder's invocation has surely ended.

        The claim is made right before the POST, and is also its mark: once it is written, the
        request may be on the wire. The first attempt puts the item (a put costs the store less than
        an update expression); a later one updates the released item rather than replacing it, so
        what earlier attempts left stays: the first `requestedAt` (a message redriven from the DLQ
        is a new message with a new timestamp, and must not get a new validity), `lastError` and
        `attempts`. The job returned is the item as it now stands, or as another delivery left it.

        Only a request first requested after `requested_after` (its validity's start, seen from
        now) is claimed, and the condition of the write itself checks the stored first
        `requestedAt`. A request past its validity is PAST_VALIDITY: never claimed, but recorded
        RELEASED when new, so that the EXPIRED outcome is written from RELEASED. Were it claimed
        first, an invocation that died before writing the outcome would leave a claim that looks
        like a POST that may have happened, and the request would end UNKNOWN instead of EXPIRED.

        The claim names the `provider` it hands the request to, unless an earlier claim named one
        (a request failed over stays with the fallback), and keeps the first attempt's time.
        """
        past = origin.validity_start <= requested_after
        claimed = Job(
            origin,
            State.RELEASED if past else State.SENDING,
            attempts=0 if past else 1,
            expires_at=self._expires_at(now),
            claim_until=None if past else delivery.claim_until,
            message_id=None if past else delivery.message_id,
            claim_token=None if past else delivery.token,
            provider=None if past else provider,
            first_attempt_at=None if past else now,
        )
        item = codec.item(claimed)
        try:  # the first attempt: a plain put, the cheapest conditional write
            self._client.put_item(
                TableName=self._table,
                Item=serialize(item),
                ConditionExpression=f"attribute_not_exists({ID})",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return (ClaimResult.PAST_VALIDITY if past else ClaimResult.GRANTED), codec.job(item)
        except ClientError as error:
            if not _conditional_failure(error):
                raise
            returned: Any = error.response.get("Item")
            existing = returned or self._get(origin.id)
        if not past and existing is not None and codec.raw_state(existing) in _CLAIMABLE:
            # A later attempt, or a scheduled request's first (§11): claimed while valid, keeping
            # what the earlier ones left; the validity counts from the later of requestedAt and
            # sendAt (a comparison with an absent sendAt is false).
            try:
                response = self._client.update_item(
                    **self._upsert(
                        origin,
                        {key: value for key, value in item.items() if key not in (ID, REQUESTED_AT, ATTEMPTS)},
                        "#state IN (:released, :scheduled) AND (#requestedAt > :after OR #sendAt > :after)",
                        {
                            ":released": State.RELEASED.value,
                            ":scheduled": State.SCHEDULED.value,
                            ":after": num(requested_after),
                        },
                        count_attempt=True,
                        keep=(PROVIDER, FIRST_ATTEMPT_AT),
                        remove=(DUE_SHARD, DUE_AT, BODY),
                    ),
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return ClaimResult.GRANTED, codec.decode(response["Attributes"])
            except ClientError as error:
                if not _conditional_failure(error):
                    raise
                returned = error.response.get("Item")
                existing = returned or self._get(origin.id)
        if existing is None:  # expired by TTL between the write and the read: let SQS try again
            raise RuntimeError(f"claim of {origin.id!r} conflicted with an item that is gone; retrying")
        job = codec.decode(existing)
        if job.state in (State.RELEASED, State.SCHEDULED):  # the stored validity start is past the validity
            return ClaimResult.PAST_VALIDITY, job
        if job.state == State.SENDING:
            if (job.claim_until or 0.0) < now:
                return ClaimResult.EXPIRED, job
            if job.message_id == delivery.message_id:
                return ClaimResult.IN_FLIGHT, job
        return ClaimResult.DUPLICATE, job

    def finish_released(self, request_id: str, final: Final, *, publish_lease_until: float) -> bool:
        """RELEASED (or SCHEDULED) → PUBLISHING: a request past its validity, never sent, ends EXPIRED. False when
        another delivery changed the item first (it ended the request, or claimed it under another
        request's validity), which spends the id."""
        return self._update(
            request_id,
            f"SET #state = :publishing, {_FINAL_SET}, {DUE_SHARD} = :shard, {DUE_AT} = :due REMOVE {BODY}",
            "#state IN (:released, :scheduled)",
            {
                ":publishing": State.PUBLISHING.value,
                ":released": State.RELEASED.value,
                ":scheduled": State.SCHEDULED.value,
                ":shard": self._shard(request_id),
                ":due": millis(publish_lease_until),
                **_placeholders(codec.final_attributes(final)),
            },
        )

    def note_failure(self, origin: Origin, *, error: str, now: float) -> None:
        """An attempt that failed before it could claim (the provider's configuration fault): keep
        its error for the outcome a later attempt may give (EXPIRED names the last failure), and
        the first `requestedAt`. Only an absent or released item is touched."""
        attributes = {
            key: value
            for key, value in codec.item(
                Job(origin, State.RELEASED, last_error=error, expires_at=self._expires_at(now), first_attempt_at=now)
            ).items()
            if key not in (ID, REQUESTED_AT)
        }
        request = self._upsert(
            origin,
            attributes,
            f"attribute_not_exists({ID}) OR #state = :released",
            {":released": State.RELEASED.value},
            keep=(FIRST_ATTEMPT_AT,),
        )
        try:
            self._client.update_item(**request)
        except ClientError as failure:
            if not _conditional_failure(failure):  # an item in another state has its own story
                raise

    def take_over(
        self, request_id: str, delivery: Delivery, *, stale_claim_until: float, unconfirmed: bool = False
    ) -> bool:
        """Re-claim an expired claim (the one until `stale_claim_until`) for this delivery; False when
        another delivery got there first. Its earlier send may have reached the provider: with
        `unconfirmed` the record says so (it never fails over)."""
        mark = f", {UNCONFIRMED} = :true" if unconfirmed else ""
        return self._update(
            request_id,
            f"SET {CLAIM_UNTIL} = :until, {MESSAGE_ID} = :message, {CLAIM_TOKEN} = :token{mark}",
            f"#state = :sending AND {CLAIM_UNTIL} = :stale",
            {
                ":until": num(delivery.claim_until),
                ":message": delivery.message_id,
                ":token": delivery.token,
                ":sending": State.SENDING.value,
                ":stale": num(stale_claim_until),
                **({":true": True} if unconfirmed else {}),
            },
        )

    def switch_provider(self, request_id: str, *, token: str, provider: str) -> bool:
        """Name another provider on this delivery's live claim, before calling it (failover): a
        redelivery after a kill mid-call then finds which one the request may have gone to. False
        when the claim is no longer this delivery's, or a send of it may have reached the first."""
        return self._update(
            request_id,
            f"SET {PROVIDER} = :provider",
            f"#state = :sending AND {CLAIM_TOKEN} = :token AND attribute_not_exists({UNCONFIRMED})",
            {":provider": provider, ":sending": State.SENDING.value, ":token": token},
        )

    def release(self, request_id: str, *, token: str, error: str, unconfirmed: bool = False) -> None:
        """The POST did not take place (or may be repeated by policy): a redelivery may claim again.
        `error` is why, kept for the outcome a later attempt may give (EXPIRED names it).
        `unconfirmed`: it may have taken place (an unknown result, resent by policy)."""
        mark = f", {UNCONFIRMED} = :true" if unconfirmed else ""
        self._update(
            request_id,
            f"SET #state = :released, {LAST_ERROR} = :error{mark} REMOVE {CLAIM_UNTIL}, {CLAIM_TOKEN}",
            f"#state = :sending AND {CLAIM_TOKEN} = :token",
            {
                ":released": State.RELEASED.value,
                ":sending": State.SENDING.value,
                ":token": token,
                ":error": error,
                **({":true": True} if unconfirmed else {}),
            },
        )

    def record_sent(
        self, request_id: str, job_id: str, *, submitted_at: float, first_check_at: float, timer: bool = False
    ) -> None:
        """SENDING → TRACKING, due at its first check; `timer`: a check timer is on its way for it."""
        self._update(
            request_id,
            f"SET #state = :tracking, {JOB_ID} = :job, {SUBMITTED_AT} = :at, {CHECKS} = :zero, "
            f"{DUE_SHARD} = :shard, {DUE_AT} = :due{_timer_set(timer)} REMOVE {CLAIM_UNTIL}, {CLAIM_TOKEN}",
            "#state = :sending",
            {
                ":tracking": State.TRACKING.value,
                ":sending": State.SENDING.value,
                ":job": job_id,
                ":at": num(submitted_at),
                ":zero": 0,
                ":shard": self._shard(request_id),
                ":due": millis(first_check_at),
            },
        )

    def finish_claimed(self, request_id: str, final: Final, *, publish_lease_until: float) -> bool:
        """SENDING → PUBLISHING: the send itself decided the outcome (400, unknown result)."""
        return self._update(
            request_id,
            f"SET #state = :publishing, {_FINAL_SET}, {DUE_SHARD} = :shard, {DUE_AT} = :due "
            f"REMOVE {CLAIM_UNTIL}, {CLAIM_TOKEN}",
            "#state = :sending",
            {
                ":publishing": State.PUBLISHING.value,
                ":sending": State.SENDING.value,
                ":shard": self._shard(request_id),
                ":due": millis(publish_lease_until),
                **_placeholders(codec.final_attributes(final)),
            },
        )

    def put_rejected(self, origin: Origin, final: Final, *, now: float, publish_lease_until: float) -> Job | None:
        """An invalid request, recorded straight as PUBLISHING (its unknowns left out, not NULL).
        None when recorded; the record that already spends the id (a duplicate delivery, or another
        request with that id) when not."""
        rejected = Job(origin, State.PUBLISHING, final=final, null_unknowns=False)
        return self._put_due(rejected, due_at=publish_lease_until, expires_from=now)

    # --- scheduled sending (contract §11) ---------------------------------------------------------

    def schedule(self, origin: Origin, *, body: str, due_at: float, validity_seconds: int, now: float) -> Job | None:
        """A request with a future sendAt, recorded SCHEDULED with its body, due at `due_at` (when
        it is to be put back on the request queue, or the end of its put-back's lease). None when
        recorded; the record that already holds the id (a duplicate, a conflict) when not."""
        scheduled = Job(origin, State.SCHEDULED, body=body, attempts=0)
        return self._put_due(scheduled, due_at=due_at, expires_from=max(now, origin.validity_start + validity_seconds))

    def lease_scheduled(self, job: Job, *, lease_until: float) -> Job | None:
        """Take a due SCHEDULED request to put it back on the queue; one run at a time. The job
        with its new `due_at` (the lease's end), or None when another run or a claim was first."""
        return self._lease(job, State.SCHEDULED, lease_until)

    def cancel(self, request_id: str, final: Final, *, publish_lease_until: float) -> tuple[bool, Job | None]:
        """SCHEDULED or RELEASED (surely not sent) → PUBLISHING with the cancel's outcome, in one
        conditional write that the claim's own condition excludes: exactly one of the two wins.
        (True, the job as it now stands) when cancelled; (False, the record as it is, or None for
        an unknown id) when not."""
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=serialize({ID: request_id}),
                UpdateExpression=f"SET #state = :publishing, {_FINAL_SET}, {DUE_SHARD} = :shard, {DUE_AT} = :due "
                f"REMOVE {BODY}, {CLAIM_UNTIL}, {CLAIM_TOKEN}",
                ConditionExpression="#state IN (:scheduled, :released)",
                ExpressionAttributeNames={"#state": STATE},
                ExpressionAttributeValues=serialize(
                    {
                        ":publishing": State.PUBLISHING.value,
                        ":scheduled": State.SCHEDULED.value,
                        ":released": State.RELEASED.value,
                        ":shard": self._shard(request_id),
                        ":due": millis(publish_lease_until),
                        **_placeholders(codec.final_attributes(final)),
                    }
                ),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not _conditional_failure(error):
                raise
            returned: Any = error.response.get("Item")
            return False, codec.decode(returned) if returned else None
        return True, codec.decode(response["Attributes"])

    # --- status path -----------------------------------------------------------------------------

    def due(self, *, now: float, limit: int, shards: Sequence[int] | None = None) -> list[Job]:
        """Up to `limit` due items of these shards (all of them by default), oldest first, reading
        only due items (one query per shard, the shards at once: with many shards, one after the
        other would add up to a run's fixed cost)."""
        now_ms = millis(now)
        pages = self._query_pool.map(
            lambda shard: list(self._query_shard(str(shard), now_ms, limit)),
            range(self._shards) if shards is None else shards,
        )
        jobs = [job for page in pages for job in page]
        jobs.sort(key=lambda job: job.due_at)
        return jobs[:limit]

    def get(self, request_ids: Sequence[str]) -> list[Job]:
        """The jobs of these ids as they stand (consistent reads, one BatchGetItem per hundred ids);
        an id the table does not hold is left out."""
        jobs: list[Job] = []
        unique = list(dict.fromkeys(request_ids))
        for start in range(0, len(unique), BATCH_GET_LIMIT):
            keys: Any = {
                self._table: {
                    "Keys": [serialize({ID: request_id}) for request_id in unique[start : start + BATCH_GET_LIMIT]],
                    "ConsistentRead": True,
                }
            }
            for attempt in range(UNPROCESSED_RETRIES + 1):
                if attempt:
                    time.sleep(0.025 * 2**attempt)
                response = self._client.batch_get_item(RequestItems=keys)
                jobs.extend(codec.decode(raw) for raw in response.get("Responses", {}).get(self._table, []))
                keys = response.get("UnprocessedKeys") or {}
                if not keys:
                    break
            if keys:
                raise RuntimeError(f"{len(keys[self._table]['Keys'])} jobs could not be read (throttled)")
        return jobs

    def reschedule(self, job: Job, *, next_check_at: float, timer: bool = False) -> bool:
        """A check that found nothing final: the next one is due at `next_check_at`; `timer`: a
        check timer is on its way for it (else the scheduled run takes it)."""
        return self._update(
            job.origin.id,
            f"SET {DUE_AT} = :due, {CHECKS} = :checks{_timer_set(timer)}" + ("" if timer else f" REMOVE {TIMER_AT}"),
            f"#state = :tracking AND {DUE_AT} = :seen",
            {
                ":due": millis(next_check_at),
                ":checks": job.checks + 1,
                ":tracking": State.TRACKING.value,
                ":seen": job.due_at,
            },
        )

    def finish_tracked(self, job: Job, final: Final, *, publish_lease_until: float) -> Job | None:
        """TRACKING → PUBLISHING; only one of two overlapping runs wins (and publishes). The job as
        it now stands, or None for the run that lost."""
        finished = replace(
            job, state=State.PUBLISHING, checks=job.checks + 1, due_at=millis(publish_lease_until), timer_at=None
        )
        if not self._update(
            job.origin.id,
            f"SET #state = :publishing, {CHECKS} = :checks, {DUE_AT} = :due, {_FINAL_SET} REMOVE {TIMER_AT}",
            f"#state = :tracking AND {DUE_AT} = :seen",
            {
                ":publishing": finished.state.value,
                ":checks": finished.checks,
                ":due": finished.due_at,
                **_placeholders(codec.final_attributes(final)),
                ":tracking": State.TRACKING.value,
                ":seen": job.due_at,
            },
        ):
            return None
        return codec.job(codec.item(replace(finished, final=final)))  # as the item keeps it: to the ms

    def lease_publish(self, job: Job, *, publish_lease_until: float) -> Job | None:
        """Take an outcome whose earlier publish failed or was interrupted; one run at a time. The
        job as it now stands, or None when another run holds the lease."""
        return self._lease(job, State.PUBLISHING, publish_lease_until)

    def publish_failed(self, request_id: str, *, retry_at: float) -> None:
        """Give up the publish lease early, so the next status run retries the publish at once."""
        self._update(
            request_id,
            f"SET {DUE_AT} = :due",
            "#state = :publishing",
            {":due": millis(retry_at), ":publishing": State.PUBLISHING.value},
        )

    def mark_published(self, request_id: str) -> None:
        """PUBLISHING → DONE: out of the index, never polled or published again."""
        self._update(
            request_id,
            f"SET #state = :done REMOVE {DUE_SHARD}, {DUE_AT}",
            "#state = :publishing",
            {":done": State.DONE.value, ":publishing": State.PUBLISHING.value},
        )

    def record_published(self, jobs: Sequence[Job]) -> set[str]:
        """PUBLISHING → DONE for the jobs of a published batch; the ids recorded.

        Each job must be as `finish_tracked` or `lease_publish` returned it: that conditional write
        is what makes the item whole and current, so it is written back whole, as DONE and out of
        the index, with no condition (BatchWriteItem takes none). One call for a batch of outcomes,
        where `mark_published` makes one each; DynamoDB and the function do less work per item
        (docs/performance.md). An id not returned is still PUBLISHING: when its lease runs out a
        later run publishes it again, with the same eventId (at least once, never lost).
        """
        left: set[str] = set()
        for start in range(0, len(jobs), BATCH_WRITE_LIMIT):
            puts: list[Any] = [
                {"PutRequest": {"Item": serialize(_done(job))}} for job in jobs[start : start + BATCH_WRITE_LIMIT]
            ]
            for attempt in range(UNPROCESSED_RETRIES + 1):
                if attempt:
                    time.sleep(0.025 * 2**attempt)
                response = self._client.batch_write_item(RequestItems={self._table: puts})
                puts = list(response.get("UnprocessedItems", {}).get(self._table, []))
                if not puts:
                    break
            left.update(put["PutRequest"]["Item"][ID]["S"] for put in puts)
        return {job.origin.id for job in jobs} - left

    # --- internals -------------------------------------------------------------------------------

    def _upsert(
        self,
        origin: Origin,
        attributes: dict[str, Any],
        condition: str,
        values: dict[str, Any],
        *,
        count_attempt: bool = False,
        keep: tuple[str, ...] = (),
        remove: Sequence[str] = (),
    ) -> dict[str, Any]:
        """An UpdateItem request that sets `attributes`, keeps the first `requestedAt` (and the
        value any of the `keep` attributes already has) and, with `count_attempt`, adds one to
        `attempts`. Every name goes through a placeholder: some (`to`)
        are DynamoDB reserved words. `attributes` must hold `state`, which the condition names."""
        names = {f"#{name}": name for name in (*attributes, REQUESTED_AT)}
        if f"#{SEND_AT}" in condition:
            names[f"#{SEND_AT}"] = SEND_AT
        sets = [
            f"#{name} = if_not_exists(#{name}, :{name})" if name in keep else f"#{name} = :{name}"
            for name in attributes
        ]
        sets.append(f"#{REQUESTED_AT} = if_not_exists(#{REQUESTED_AT}, :{REQUESTED_AT})")
        if count_attempt:
            names[f"#{ATTEMPTS}"] = ATTEMPTS
            sets.append(f"#{ATTEMPTS} = if_not_exists(#{ATTEMPTS}, :zero) + :one")
            values = {**values, ":zero": 0, ":one": 1}
        update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(remove) if remove else "")
        return {
            "TableName": self._table,
            "Key": serialize({ID: origin.id}),
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": serialize(
                {**_placeholders(attributes), f":{REQUESTED_AT}": num(origin.requested_at), **values}
            ),
        }

    def _lease(self, job: Job, state: State, until: float) -> Job | None:
        """Move a due job's `dueAt` to `until`, conditional on its state and on the `dueAt` it was
        read with: of two overlapping runs, one gets the lease."""
        due = millis(until)
        if not self._update(
            job.origin.id,
            f"SET {DUE_AT} = :due",
            f"#state = :state AND {DUE_AT} = :seen",
            {":due": due, ":state": state.value, ":seen": job.due_at},
        ):
            return None
        return replace(job, due_at=due)

    def _put_new(self, job: Job) -> Job | None:
        """Put the first record of an id: None when written; the record that already holds the id
        (a duplicate delivery, or another request with that id) when not."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item=serialize(codec.item(job)),
                ConditionExpression=f"attribute_not_exists({ID})",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not _conditional_failure(error):
                raise
            returned: Any = error.response.get("Item")
            existing = returned or self._get(job.origin.id)
            if existing is None:
                raise RuntimeError(f"{job.origin.id!r} conflicted with an item that is gone; retrying") from None
            return codec.decode(existing)
        return None

    def _put_due(self, job: Job, *, due_at: float, expires_from: float) -> Job | None:
        """_put_new of a first record with work due at `due_at`, on its id's shard of the due index,
        that the store may forget once its lifetime, counted from `expires_from`, has passed."""
        shard = int(self._shard(job.origin.id))
        due = replace(job, due_at=millis(due_at), due_shard=shard, expires_at=self._expires_at(expires_from))
        return self._put_new(due)

    def _expires_at(self, now: float) -> int:
        return int(now) + self._lifetime

    def _shard(self, request_id: str) -> str:
        return str(zlib.crc32(request_id.encode("utf-8")) % self._shards)

    def _query_shard(self, shard: str, now_ms: int, limit: int) -> Iterator[Job]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": self._index,
            "KeyConditionExpression": f"{DUE_SHARD} = :shard AND {DUE_AT} <= :now",
            "ExpressionAttributeValues": serialize({":shard": shard, ":now": now_ms}),
            "ScanIndexForward": True,
        }
        remaining = limit
        while remaining > 0:
            page = self._client.query(Limit=remaining, **kwargs)
            for raw in page.get("Items", []):
                remaining -= 1
                yield codec.decode(raw)
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _get(self, request_id: str) -> dict[str, Any] | None:
        response = self._client.get_item(TableName=self._table, Key=serialize({ID: request_id}), ConsistentRead=True)
        item: dict[str, Any] | None = response.get("Item")
        return item

    def _update(self, request_id: str, update: str, condition: str, values: dict[str, Any]) -> bool:
        request: dict[str, Any] = {
            "TableName": self._table,
            "Key": serialize({ID: request_id}),
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": serialize(values),
        }
        if "#state" in update + condition:
            request["ExpressionAttributeNames"] = {"#state": STATE}
        try:
            self._client.update_item(**request)
        except ClientError as error:
            if _conditional_failure(error):
                return False
            raise
        return True


# The states a claim takes a request from: waiting for a retry, or for its sendAt.
_CLAIMABLE = (State.RELEASED.value, State.SCHEDULED.value)

# The placeholders are the attributes' names, so `_placeholders` of the attributes fills them.
_FINAL_SET = ", ".join(f"{name} = :{name}" for name in codec.FINAL_ATTRIBUTES)


def _timer_set(timer: bool) -> str:
    """The part of a SET that marks the check timer on its way for the new dueAt (`:due`)."""
    return f", {TIMER_AT} = :due" if timer else ""


def _placeholders(attributes: dict[str, Any]) -> dict[str, Any]:
    """An update's values for attributes set by placeholders named after them (`outcome = :outcome`)."""
    return {f":{name}": value for name, value in attributes.items()}


def _done(job: Job) -> dict[str, Any]:
    if job.state != State.PUBLISHING or job.final is None:
        raise ValueError(f"{job.origin.id!r} is not a job whose outcome is being published")
    return codec.item(replace(job, state=State.DONE, due_shard=None))


def _conditional_failure(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
