"""The Retarus credentials, read from Secrets Manager through Powertools Parameters and cached.

Cached for `max_age` seconds per container so a batch costs no Secrets Manager call, yet a rotated
password is picked up within minutes; `forget()` drops the cache at once after the provider refuses
the credentials, so a fixed secret takes effect at the next invocation.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError

from sms_pipeline.ports import ConfigurationFault


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str

    def __repr__(self) -> str:  # never print the password, even in a debugger or a traceback
        return f"Credentials(user={self.user!r}, password='***')"


class SecretCredentials:
    def __init__(self, secret_arn: str, *, max_age: int = 300, provider: SecretsProvider | None = None) -> None:
        self._secret_arn = secret_arn
        self._max_age = max_age
        self._provider = provider or SecretsProvider()
        # A batch's threads all ask at once; on a cold or expired cache only one of them may fetch.
        self._lock = threading.Lock()

    def __call__(self) -> Credentials:
        try:
            with self._lock:
                value: Any = self._provider.get(self._secret_arn, max_age=self._max_age, transform="json")
        except TransformParameterError:
            raise ConfigurationFault(
                f'the Retarus secret {self._secret_arn} is not JSON; store {{"user": "...", "password": "..."}} in it'
            ) from None
        except GetParameterError as error:
            raise ConfigurationFault(
                f"cannot read the Retarus secret {self._secret_arn} ({_error_code(error)}); "
                "check that it exists and that RetarusSecretArn names it"
            ) from None
        user = value.get("user") if isinstance(value, dict) else None
        password = value.get("password") if isinstance(value, dict) else None
        if not isinstance(user, str) or not user or not isinstance(password, str) or not password:
            raise ConfigurationFault(
                f'the Retarus secret {self._secret_arn} must hold non-empty string fields "user" and "password"'
            )
        return Credentials(user=user, password=password)

    def forget(self) -> None:
        self._provider.clear_cache()  # type: ignore[no-untyped-call]


def _error_code(error: GetParameterError) -> str:
    """The AWS error code only: the full text may quote a response we do not control."""
    cause = error.__cause__ or error.__context__
    response = getattr(cause, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", "error"))
    return type(cause).__name__ if cause else "error"
