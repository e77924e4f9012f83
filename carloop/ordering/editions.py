"""Pure rules of reservations: identity numbers, anti-scalper limits, edition units, queue positions."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib.resources import files
from typing import Any

from carloop.accounts.id_numbers import id_number_with_check as id_number_with_check
from carloop.accounts.id_numbers import identity_hash as identity_hash
from carloop.accounts.id_numbers import valid_id_number as valid_id_number
from carloop.errors import ErrorCode, PermissionDenied, PolicyViolation


class TransferMode(StrEnum):
    """Who an edition order may pass to."""

    NONE = "none"  # nobody: the order stays with its buyer
    FAMILY = "family"  # only a family member the owner listed, and only when the owner confirms


@dataclass(frozen=True, slots=True)
class ScalperPolicy:
    """Anti-scalper rules of one edition."""

    max_orders_per_identity: int
    buyer_changeable: bool = False
    transfer: TransferMode = TransferMode.FAMILY


def parse_policies(data: Mapping[str, Any]) -> dict[str, ScalperPolicy]:
    """Policies by edition code (``*`` is the default) from the TOML table."""
    return {
        code: ScalperPolicy(
            max_orders_per_identity=int(row["max_orders_per_identity"]),
            buyer_changeable=bool(row.get("buyer_changeable", False)),
            transfer=TransferMode(row.get("transfer", "family")),
        )
        for code, row in data.items()
    }


@cache
def policies() -> dict[str, ScalperPolicy]:
    """The anti-scalper policies of the editions, from the package's data file (read once per process)."""
    with (files("carloop.ordering") / "data" / "edition_policies.toml").open("rb") as fh:
        return parse_policies(tomllib.load(fh))


def policy_for(policies: Mapping[str, ScalperPolicy], edition: str) -> ScalperPolicy:
    """The edition's own policy, else the default one."""
    return policies.get(edition) or policies["*"]


def admit_by_identity(identities: Sequence[str], held: Mapping[str, int], limit: int) -> list[bool]:
    """In arrival order, admit each request while its identity holds fewer than ``limit`` orders."""
    counts = dict(held)
    admitted = []
    for identity in identities:
        ok = counts.get(identity, 0) < limit
        if ok:
            counts[identity] = counts.get(identity, 0) + 1
        admitted.append(ok)
    return admitted


@dataclass(frozen=True, slots=True)
class UnitGrant:
    """Edition numbers for a batch of paid requests (None: waitlisted) and the stock after it."""

    numbers: list[int | None]
    taken: int
    returns_used: list[int]


def grant_units(requests: int, *, capacity: int, taken: int, returns: Iterable[int]) -> UnitGrant:
    """Give numbers in arrival order: returned numbers first (lowest first), then the next unissued ones."""
    free = sorted(returns)
    numbers: list[int | None] = []
    used: list[int] = []
    for _ in range(requests):
        if free:
            number = free.pop(0)
            used.append(number)
            numbers.append(number)
        elif taken < capacity:
            taken += 1
            numbers.append(taken)
        else:
            numbers.append(None)
    return UnitGrant(numbers, taken, used)


def positions(last: int, count: int) -> range:
    """The next ``count`` queue positions after ``last``."""
    return range(last + 1, last + count + 1)


def position_gaps(found: Iterable[int]) -> int:
    """How many positions are missing or repeated in what should be exactly 1..n."""
    values = sorted(found)
    if not values:
        return 0
    return (values[-1] - len(set(values))) + (len(values) - len(set(values)))


def check_transfer(
    policy: ScalperPolicy,
    *,
    owner_id: int,
    requested_by: int,
    to_customer_id: int,
    family: Iterable[int],
) -> None:
    """Refuse a transfer the edition's rules forbid: only the owner, only to their listed family."""
    if requested_by != owner_id:
        raise PermissionDenied("Only the order's owner can hand it over.")
    if to_customer_id == owner_id:
        raise PolicyViolation("The order already belongs to this buyer.", code=ErrorCode.POLICY_VIOLATION)
    if policy.transfer is TransferMode.NONE:
        raise PolicyViolation(
            "Orders of this edition cannot be transferred.", code=ErrorCode.POLICY_VIOLATION
        )
    if to_customer_id not in set(family):
        raise PolicyViolation(
            "An edition order can only pass to a family member the owner has listed.",
            code=ErrorCode.POLICY_VIOLATION,
        )
