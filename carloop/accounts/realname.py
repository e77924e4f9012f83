"""Real-name verification of resident identity numbers: a pluggable adapter and its local stand-in.

An adapter answers whether a name and an identity number belong together (in production a provider's
ID-card check, e.g. Tencent Cloud FaceID ``IdCardVerification``); it returns a :class:`Verified` or
raises a :class:`~carloop.errors.DomainError` (``accounts.faceid`` is the Tencent Cloud one,
``accounts.verifiers.build_verifier`` picks one from Settings). The stand-in checks only the GB 11643
checksum and refuses a configured list of numbers, so tests can see a refusal; it is never a real check.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from carloop.accounts import id_numbers
from carloop.errors import ErrorCode, PolicyViolation


@dataclass(frozen=True, slots=True)
class Verified:
    """A name and identity number the adapter vouched for (the number normalised)."""

    name: str
    id_number: str


class RealNameVerifier(Protocol):
    """Checks that ``id_number`` is a real identity and belongs to ``name``."""

    def verify(self, name: str, id_number: str) -> Verified:
        """The verified pair, or a DomainError saying why not."""
        ...


class StandInVerifier:
    """Local stand-in: GB 11643 checksum, and a refusal for each number in ``refused``."""

    def __init__(self, refused: Iterable[str] = ()) -> None:
        self.refused = frozenset(n.strip().upper() for n in refused)

    def verify(self, name: str, id_number: str) -> Verified:
        """Verified if the checksum holds and the number is not on the refusal list."""
        number = id_number.strip().upper()
        if not id_numbers.valid_id_number(number) or number in self.refused:
            raise PolicyViolation(
                "The real-name check did not confirm this identity number.",
                code=ErrorCode.REALNAME_REFUSED,
                field="id_number",
            )
        return Verified(name=name.strip(), id_number=number)
