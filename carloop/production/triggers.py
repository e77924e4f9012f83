"""What started an allocation run: a kind and its values, worded through the Babel catalogs when shown.

A run stores ``trigger_kind`` and ``trigger_params`` (never English text): the staff page words it
in the reader's language with ``message(kind)`` and ``values(kind, params, locale)``, the API in
English with ``english``. A part is stored by its code and shown by its name in the locale.
Pure: the parts' names come from the packaged bill of materials.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from carloop.catalog.parts import all_parts


class TriggerKind(StrEnum):
    """Why an allocation run happened."""

    ORDER_LOCKED = "order_locked"  # number
    ORDER_CANCELLED = "order_cancelled"  # number
    ORDER_RECONFIGURED = "order_reconfigured"  # number: its configuration changed after lock
    INVENTORY_CAR_TAKEN = "inventory_car_taken"  # number, vin
    PLAN_SAVED = "plan_saved"  # version, reason (HQ's own words, shown as typed)
    SUPPLY_SHORT = "supply_short"  # version, supplier, part (code), week (ISO date of its Monday)
    SUPPLY_RESTORED = "supply_restored"  # version, supplier, part (code), week
    TEXT = "text"  # text: a run recorded as English text before runs were structured, left unread


# The msgids (production.po and supply.po translate them; tests/unit/production/test_triggers.py
# checks every one has a Chinese translation with the same placeholders).
MESSAGES: dict[str, str] = {
    TriggerKind.ORDER_LOCKED: "Order %(number)s locked",
    TriggerKind.ORDER_CANCELLED: "Order %(number)s cancelled",
    TriggerKind.ORDER_RECONFIGURED: "Order %(number)s: configuration changed after lock",
    TriggerKind.INVENTORY_CAR_TAKEN: "Order %(number)s took inventory car %(vin)s",
    TriggerKind.PLAN_SAVED: "Plan v%(version)s: %(reason)s",
    TriggerKind.SUPPLY_SHORT: "Plan v%(version)s: supplier %(supplier)s short of %(part)s from %(week)s",
    TriggerKind.SUPPLY_RESTORED: (
        "Plan v%(version)s: supplier %(supplier)s back to full supply of %(part)s from %(week)s"
    ),
    TriggerKind.TEXT: "%(text)s",
}

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
REASON_CHARS = 200  # HQ's reason is kept as long as a plan version keeps it


@dataclass(frozen=True, slots=True)
class Trigger:
    """A run's cause as stored: its kind and the values its message needs."""

    kind: TriggerKind
    params: dict[str, str | int] = field(default_factory=dict)


def order_locked(number: str) -> Trigger:
    return Trigger(TriggerKind.ORDER_LOCKED, {"number": number})


def order_cancelled(number: str) -> Trigger:
    return Trigger(TriggerKind.ORDER_CANCELLED, {"number": number})


def order_reconfigured(number: str) -> Trigger:
    return Trigger(TriggerKind.ORDER_RECONFIGURED, {"number": number})


def inventory_car_taken(number: str, vin: str) -> Trigger:
    return Trigger(TriggerKind.INVENTORY_CAR_TAKEN, {"number": number, "vin": vin})


def plan_saved(reason: str) -> Trigger:
    """HQ saved a plan (``save_plan`` adds the version)."""
    return Trigger(TriggerKind.PLAN_SAVED, {"reason": reason[:REASON_CHARS]})


def supply_changed(supplier: str, part: str, week: str, *, short: bool) -> Trigger:
    """A supplier's confirmations capped a part from ``week`` (or lifted the cap); ``save_plan`` adds
    the version."""
    kind = TriggerKind.SUPPLY_SHORT if short else TriggerKind.SUPPLY_RESTORED
    return Trigger(kind, {"supplier": supplier, "part": part, "week": week})


def message(kind: str) -> str:
    """The msgid a run of this kind is worded with (an unknown kind: its text as stored)."""
    return MESSAGES.get(kind, MESSAGES[TriggerKind.TEXT])


def values(kind: str, params: dict[str, str | int], locale: str) -> dict[str, str]:
    """The message's values in ``locale``: a part code becomes the part's name; a missing value, ``?``."""
    names = {name: "?" for name in _PLACEHOLDER.findall(message(kind))}
    found = {**names, **{k: str(v) for k, v in params.items() if k in names}}
    if "part" in found and (part := all_parts().get(found["part"])) is not None:
        found["part"] = part.name_zh if locale == "zh_CN" else part.name_en
    return found


def english(kind: str, params: dict[str, str | int]) -> str:
    """The run's cause in English (the API's ``trigger``)."""
    return message(kind) % values(kind, params, "en")
