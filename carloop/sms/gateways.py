"""The seam between carloop and an SMS provider: one call, one answer (a message id) or one refusal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

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


@runtime_checkable
class BatchSmsGateway(SmsGateway, Protocol):
    """A provider that takes one text for many numbers in one request (bulk notices)."""

    batch_size: int  # numbers per request, at most

    def send_batch(
        self, *, phones: Sequence[str], template_code: str, purpose: str, params: Mapping[str, str]
    ) -> dict[str, str | ProviderRefused]:
        """Send the same templated message to each of ``phones`` in one request: per phone the
        provider's message id or its refusal of that number; ``ProviderRefused`` if it refused the
        whole request."""
        ...
