"""Composition: settings, AWS clients and adapters built once per container, for both handlers.

Each container has one boto3 session (the default one), one client per service it uses, and one
pooled HTTPS session to the provider. The handlers build their use case at import, so the
configuration is checked at cold start and Lambda's init phase (which runs before the first event,
and is what SnapStart or provisioned concurrency would keep) creates the clients; the one client a
container may never need, the send function's SNS and SQS clients, are made on first use.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import TYPE_CHECKING

import boto3
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from botocore.config import Config

from sms_pipeline.check_queue import SqsCheckTimers
from sms_pipeline.config import Settings
from sms_pipeline.dynamodb.store import JobStore, query_threads
from sms_pipeline.publisher import SnsPublisher
from sms_pipeline.retarus.client import RetarusClient
from sms_pipeline.retarus.credentials import SecretCredentials

# Each function imports the use case it runs and nothing of the other's: the send side's request
# model, segments and Powertools' batch utility cost the status function's cold start about 40 ms
# (`python -X importtime`), for code it never calls.
if TYPE_CHECKING:
    from sms_pipeline.batch_processor import ConcurrentSqsProcessor
    from sms_pipeline.delivery import DeliveryOutcomes
    from sms_pipeline.failover import Failover
    from sms_pipeline.protection import Protection
    from sms_pipeline.request_queue import RequestPutBack
    from sms_pipeline.sending import Sender
    from sms_pipeline.tracking import Tracker

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

# Standard retry mode backs off on throttling; a short connect timeout keeps a stuck call from
# eating the invocation.
_AWS_CONFIG = Config(retries={"max_attempts": 4, "mode": "standard"}, connect_timeout=2, read_timeout=10)


def _aws_config(threads: int) -> Config:
    """One pooled connection per thread that may call the client at once. botocore keeps ten: a
    call beyond them opens a connection (in AWS, a TLS handshake) that is dropped once it is done,
    and a status run's report and publish threads are more than ten."""
    return _AWS_CONFIG.merge(Config(max_pool_connections=max(threads, 10)))


@cache
def settings() -> Settings:
    return Settings.from_env()


@cache
def credentials() -> SecretCredentials:
    # The provider gets our client: left to itself it opens a boto3 session of its own.
    provider = SecretsProvider(boto3_client=boto3.client("secretsmanager", config=_AWS_CONFIG))
    return SecretCredentials(settings().retarus_secret_arn, max_age=settings().secret_max_age, provider=provider)


def _store(config: Settings, threads: int, client: DynamoDBClient | None = None) -> JobStore:
    return JobStore(
        client or boto3.client("dynamodb", config=_aws_config(threads)),
        config.table_name,
        index_name=config.due_index_name,
        shards=config.due_index_shards,
        retention_seconds=config.record_retention_seconds,
        tracking_limit_seconds=config.tracking_limit_seconds,
    )


def _publisher(config: Settings, threads: int, *, lazy: bool = False) -> SnsPublisher:
    if lazy:
        return SnsPublisher(lambda: boto3.client("sns", config=_aws_config(threads)), config.topic_arn)
    return SnsPublisher(boto3.client("sns", config=_aws_config(threads)), config.topic_arn)


def _provider(config: Settings, pool_size: int) -> RetarusClient:
    return RetarusClient(
        config.retarus_base_url,
        credentials(),
        connect_timeout=config.connect_timeout,
        read_timeout=config.read_timeout,
        pool_size=pool_size,
    )


def _failover(config: Settings) -> Failover | None:
    """The second provider, with FallbackProvider aws-sms only. Its boto3 client is made on the
    first failover: most containers never fail over."""
    if not config.has_fallback:
        return None
    from sms_pipeline.aws_sms.client import AwsSmsClient, boto3_client
    from sms_pipeline.failover import Failover
    from sms_pipeline.lazy import OnFirstUse

    assert config.fallback_origination_identity and config.fallback_configuration_set  # checked by Settings
    client = AwsSmsClient(
        OnFirstUse(
            lambda: boto3_client(
                connect_timeout=config.fallback_connect_timeout,
                read_timeout=config.fallback_read_timeout,
                pool_size=config.send_concurrency,
            )
        ),
        origination_identity=config.fallback_origination_identity,
        configuration_set=config.fallback_configuration_set,
    )
    return Failover(client, after_seconds=config.failover_after_seconds or 0, check_after=config.tracking_limit_seconds)


def _check_timers(config: Settings) -> SqsCheckTimers | None:
    """The check queue, its SQS client made on first use (a batch that sends nothing needs none);
    None with CheckTimerMaxDelaySeconds 0, when every check is the scheduled run's."""
    if not config.check_timer_max_delay_seconds:
        return None
    return SqsCheckTimers(
        lambda: boto3.client("sqs", config=_AWS_CONFIG),
        config.check_queue_url,
        reach_seconds=config.check_timer_max_delay_seconds,
    )


def _protection(config: Settings, client: DynamoDBClient) -> Protection:
    """The rules of contract §10, on the job store's client; a rule that is off reads and writes
    nothing of the counters table (the policy asks only for what a rule that is on needs)."""
    from sms_pipeline.protection import Protection
    from sms_pipeline.protection_store import DynamoRules

    state = DynamoRules(client, opt_out_table=config.opt_out_table_name, counters_table=config.counters_table_name)
    return Protection(config.protection, state=state)


@cache
def sender() -> Sender:
    from sms_pipeline.request import Defaults
    from sms_pipeline.sending import Sender

    config = settings()
    dynamodb = boto3.client("dynamodb", config=_aws_config(config.send_concurrency))
    return Sender(
        _store(config, config.send_concurrency, dynamodb),
        _publisher(config, config.send_concurrency, lazy=True),
        _provider(config, config.send_concurrency),
        resend_unconfirmed=config.resend_unconfirmed,
        first_check_delay=config.check_delays[0],
        publish_lease_seconds=config.publish_lease_seconds,
        default_validity_seconds=config.default_validity_seconds,
        retry_delays=config.retry_delays,
        request_defaults=Defaults(max_segments=config.max_segments, smart_encoding=config.smart_encoding),
        on_auth_failure=credentials().forget,
        failover=_failover(config),
        requeue=_put_back(config),
        schedule_lead_seconds=config.schedule_lead_seconds,
        timers=_check_timers(config),
        protection=_protection(config, dynamodb),
    )


def _put_back(config: Settings) -> RequestPutBack:
    """The put-back of scheduled requests (§11), for both functions; its SQS client is made on first use."""
    from sms_pipeline.request_queue import RequestPutBack

    return RequestPutBack(lambda: boto3.client("sqs", config=_AWS_CONFIG), config.request_queue_url)


@cache
def send_processor() -> ConcurrentSqsProcessor:
    """The send function's batch processor: its records run on a pool of SEND_CONCURRENCY threads,
    and the records it fails come back after the delay each asked for."""
    from sms_pipeline.batch_processor import ConcurrentSqsProcessor
    from sms_pipeline.request_queue import RequestQueue

    config = settings()
    pool = ThreadPoolExecutor(max_workers=config.send_concurrency, thread_name_prefix="send")
    queue = RequestQueue(lambda: boto3.client("sqs", config=_AWS_CONFIG), config.request_queue_url)
    return ConcurrentSqsProcessor(pool, queue)


@cache
def tracker() -> Tracker:
    from sms_pipeline.tracking import PUBLISH_WORKERS, Tracker

    config = settings()
    return Tracker(
        _store(config, max(query_threads(config.due_index_shards), config.status_concurrency + PUBLISH_WORKERS)),
        _publisher(config, PUBLISH_WORKERS),
        _provider(config, config.status_concurrency),
        check_delays=config.check_delays,
        tracking_limit_seconds=config.tracking_limit_seconds,
        publish_lease_seconds=config.publish_lease_seconds,
        concurrency=config.status_concurrency,
        max_jobs=config.status_max_jobs,
        on_auth_failure=credentials().forget,
        requeue=_put_back(config),
        schedule_lead_seconds=config.schedule_lead_seconds,
        timers=_check_timers(config),
        timer_margin_seconds=config.check_timer_margin_seconds,
    )


@cache
def delivery_outcomes() -> DeliveryOutcomes:
    """The fallback events function's use case: the store and the outcomes topic, no provider."""
    from sms_pipeline.delivery import DeliveryOutcomes

    config = settings()
    return DeliveryOutcomes(
        _store(config, 1), _publisher(config, 1), publish_lease_seconds=config.publish_lease_seconds
    )
