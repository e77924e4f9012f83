"""Pure rules of notices: which channels a notice goes out on, and in which language."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    """Where a notice reaches its recipient."""

    INAPP = "inapp"  # the inbox in the app: always
    SMS = "sms"  # for what matters: money, lock warnings, ETA changes, delivery slots
    EMAIL = "email"  # when the owner gave an address and wants e-mail


# Notice kinds that deserve a text message, and the SMS template (carloop.sms.rules.TEMPLATES) each uses.
SMS_TEMPLATE: dict[str, str] = {
    "money": "money",
    "lock_warning": "lock_warning",
    "eta_changed": "eta_changed",
    "window_later": "eta_changed",  # the production plan moved the delivery window
    "window_earlier": "eta_changed",
    "delivery_slot": "delivery_slot",
}
ALWAYS_SMS = frozenset({"money"})  # money movements go by SMS even if the owner turned SMS off

LOCALES = ("zh_CN", "en")


def channels(kind: str, *, sms_on: bool, email: str, email_on: bool) -> list[Channel]:
    """The channels of a notice of ``kind`` for an owner with these preferences."""
    chosen = [Channel.INAPP]
    if kind in SMS_TEMPLATE and (sms_on or kind in ALWAYS_SMS):
        chosen.append(Channel.SMS)
    if email and email_on:
        chosen.append(Channel.EMAIL)
    return chosen


def in_language(locale: str, en: str, zh: str) -> str:
    """The text for a reader of ``locale`` (Chinese unless they chose English)."""
    return en if locale == "en" else zh


def valid_email(address: str) -> bool:
    """A plausible e-mail address (one @, a dot in the domain, no spaces), at most 200 characters."""
    local, _, domain = address.partition("@")
    return (
        0 < len(address) <= 200
        and bool(local)
        and "." in domain.strip(".")
        and "@" not in domain
        and not any(c.isspace() for c in address)
    )
