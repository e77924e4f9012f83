"""The one error tree of carloop's domain code.

    DomainError(code, message)
     ├── NotFound               the thing does not exist, or is not yours to see
     ├── Conflict               the request clashes with the current state (idempotency key reuse...)
     │    └── InvalidTransition the order cannot move from its state to the one asked for
     ├── PolicyViolation        a rule forbids it (invalid configuration, deposit no longer refundable...)
     │    └── InvalidConfiguration  the options chosen break catalog rules; carries the conflicts
     ├── CapacityExhausted      nothing left to give (limited edition, slot, stock)
     ├── PaymentFailed          a provider refused, or a notification failed verification
     ├── AuthenticationFailed   not signed in, or wrong code/password
     ├── PermissionDenied       signed in, but the role may not do this
     ├── RateLimited            too many attempts; carries retry_after seconds
     ├── Unavailable            a provider we depend on did not answer usefully; retry later
     └── MessageNotSent         an SMS (or e-mail) provider did not take the message

The web layer maps each class to an HTTP status and an RFC 9457 problem body; domain code never
raises HTTP errors itself.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """Stable machine-readable codes; they appear in problem ``type`` URIs."""

    NOT_FOUND = "not-found"
    CONFLICT = "conflict"
    IDEMPOTENCY_MISMATCH = "idempotency-key-reused"
    INVALID_TRANSITION = "invalid-transition"
    POLICY_VIOLATION = "policy-violation"
    INVALID_CONFIGURATION = "invalid-configuration"
    NOT_REFUNDABLE = "deposit-not-refundable"
    LOCK_NOT_CONFIRMED = "lock-not-confirmed"
    CHANGE_NOT_CONFIRMED = "change-not-confirmed"
    CAPACITY_EXHAUSTED = "capacity-exhausted"
    PAYMENT_FAILED = "payment-failed"
    SIGNATURE_INVALID = "signature-invalid"
    AUTHENTICATION_FAILED = "authentication-failed"
    PERMISSION_DENIED = "permission-denied"
    RATE_LIMITED = "rate-limited"
    EDITION_LIMIT_REACHED = "edition-limit-reached"
    IDENTITY_REQUIRED = "identity-required"
    IDENTITY_MISMATCH = "identity-mismatch"
    IDENTITY_TAKEN = "identity-taken"
    REALNAME_REFUSED = "realname-refused"
    REALNAME_REQUIRED = "realname-required"
    REALNAME_UNAVAILABLE = "realname-unavailable"
    SERVICE_UNAVAILABLE = "service-unavailable"
    APPOINTMENT_LIMIT_REACHED = "appointment-limit-reached"
    YAML_TOO_LARGE = "yaml-too-large"
    VALIDATION_ERROR = "validation-error"
    MALFORMED_BODY = "malformed-body"
    MESSAGE_NOT_SENT = "message-not-sent"
    ORDERS_NOT_OPEN = "orders-not-open"


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""

    default_code: ErrorCode = ErrorCode.CONFLICT

    def __init__(self, message: str, *, code: ErrorCode | None = None, **data: Any) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.data = data


class NotFound(DomainError):
    default_code = ErrorCode.NOT_FOUND


class Conflict(DomainError):
    default_code = ErrorCode.CONFLICT


class InvalidTransition(Conflict):
    default_code = ErrorCode.INVALID_TRANSITION


class PolicyViolation(DomainError):
    default_code = ErrorCode.POLICY_VIOLATION


class InvalidConfiguration(PolicyViolation):
    default_code = ErrorCode.INVALID_CONFIGURATION

    def __init__(self, message: str, *, problems: list[dict[str, Any]]) -> None:
        super().__init__(message, problems=problems)
        self.problems = problems


class CapacityExhausted(DomainError):
    default_code = ErrorCode.CAPACITY_EXHAUSTED


class PaymentFailed(DomainError):
    default_code = ErrorCode.PAYMENT_FAILED


class AuthenticationFailed(DomainError):
    default_code = ErrorCode.AUTHENTICATION_FAILED


class PermissionDenied(DomainError):
    default_code = ErrorCode.PERMISSION_DENIED


class RateLimited(DomainError):
    default_code = ErrorCode.RATE_LIMITED

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after


class Unavailable(DomainError):
    """A provider carloop depends on (e.g. real-name verification) failed or is down; nothing changed."""

    default_code = ErrorCode.SERVICE_UNAVAILABLE

    def __init__(self, message: str, *, code: ErrorCode | None = None, retry_after: int = 30) -> None:
        super().__init__(message, code=code, retry_after=retry_after)
        self.retry_after = retry_after


class MessageNotSent(DomainError):
    """An outside messaging provider (SMS, e-mail) did not take a message; ``retryable`` says whether
    trying again later can help."""

    default_code = ErrorCode.MESSAGE_NOT_SENT

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable
