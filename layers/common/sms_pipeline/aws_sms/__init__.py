"""AWS End User Messaging SMS (`pinpoint-sms-voice-v2`), the fallback provider of contract §12."""
