"""`python -m local.aws_sms`: serve the AWS End User Messaging SMS simulator in the foreground."""

from __future__ import annotations

import argparse
import sys

from local.aws_sms.simulator import AwsSmsSimulator, sns_sink
from local.loopback import serve_in_foreground


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local.aws_sms",
        description="Serve a pinpoint-sms-voice-v2 SendTextMessage simulator (Ctrl-C stops it); "
        "point boto3 at it with AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free one (default 8081)")
    parser.add_argument("--origination-identity", help="the only identity accepted (default: any)")
    parser.add_argument("--configuration-set", help="the only configuration set accepted (default: any)")
    parser.add_argument("--moto", help="the moto server URL whose SNS topic gets the delivery events")
    parser.add_argument("--topic-arn", help="the SNS topic of the configuration set's event destination")
    parser.add_argument("--region", default="eu-west-1")
    parser.add_argument("--repeat-events", type=int, default=1)
    parser.add_argument("--out-of-order", action="store_true")
    settings = vars(parser.parse_args(argv))  # the simulator's keywords, but where its events go
    moto, topic_arn, region = settings.pop("moto"), settings.pop("topic_arn"), settings.pop("region")
    if bool(moto) != bool(topic_arn):
        parser.error("--moto and --topic-arn go together")
    simulator = AwsSmsSimulator(events=sns_sink(moto, topic_arn, region) if moto else None, **settings)
    return serve_in_foreground(simulator, lambda: simulator.endpoint_url)


if __name__ == "__main__":
    sys.exit(main())
