"""A simulator of AWS End User Messaging SMS (`pinpoint-sms-voice-v2`), which moto does not have."""

from local.aws_sms.simulator import AcceptedMessage, AwsSmsSimulator, sns_sink

__all__ = ["AcceptedMessage", "AwsSmsSimulator", "sns_sink"]
