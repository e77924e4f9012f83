"""Resident identity numbers (GB 11643): the checksum, and the keyed hash they are stored as."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def valid_id_number(text: str) -> bool:
    """Whether ``text`` is a well-formed 18-character resident identity number (GB 11643 checksum)."""
    value = text.strip().upper()
    if len(value) != 18 or not value[:17].isdigit() or not (value[17].isdigit() or value[17] == "X"):
        return False
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    total = sum(int(d) * w for d, w in zip(value[:17], _WEIGHTS, strict=True))
    return _CHECK[total % 11] == value[17]


def identity_hash(identity_key: bytes, id_number: str) -> str:
    """The keyed hash an identity number is stored as (never the number itself)."""
    return hmac.new(identity_key, id_number.strip().upper().encode(), hashlib.sha256).hexdigest()


def id_number_with_check(first17: str) -> str:
    """The full identity number for 17 digits, with its check character (for test data)."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return first17 + _CHECK[total % 11]
