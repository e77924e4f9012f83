"""The seam between carloop and an SMS provider: one call, one answer (a message id) or one refusal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from carloop.sms.rules import Failure, classify


class ProviderRefused(Exception):
    """The provider did not take the message; ``failure`` says what the caller can do about it.

    Its text names the provider's code and never the message's variables (a sign-in code must not
    reach a log line through an exception).
    """

    def __init__(self, provider: str, code: str, detail: str = "") -> None:
        super().__init__(f"{provider} refused the message: {code} {detail}".strip())
        self.provider = provider
        self.code = code
        self.failure: Failure = classify(provider, code)


class SmsGateway(Protocol):
    """One SMS provider's API."""

    name: str

    def send(self, *, phone: str, template_code: str, purpose: str, params: Mapping[str, str]) -> str:
        """Send one templated message to ``phone`` (``+86...``); the provider's message id, or
        ``ProviderRefused``."""
        ...
