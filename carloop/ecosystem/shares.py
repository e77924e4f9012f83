"""Which bridge serves which cars: owners hashed into partitions, partitions dealt to live bridges.

Pure rules, no I/O. A car's share is its owner's (an owner's scenes join the owner's car, phone and
home devices, so they must all live in one engine). ``partition_of`` hashes the owner id into one of
``partitions`` fixed buckets; ``assign`` deals each partition to one member by rendezvous hashing
(highest score of ``hash(member, partition)`` wins): every bridge computes the same answer from the
same list of members, and when a member joins or leaves only the partitions that member wins or held
move, about ``1/N`` of the cars, instead of nearly all of them as ``hash % N`` would move.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

DEFAULT_PARTITIONS = 256  # enough for an even deal over a few dozen bridges; fixed for a deployment


def _score(*parts: object) -> int:
    digest = hashlib.blake2b("/".join(str(p) for p in parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def partition_of(owner_id: int, partitions: int = DEFAULT_PARTITIONS) -> int:
    """The partition an owner's cars, devices and scenes belong to."""
    return _score("owner", owner_id) % partitions


def assign(partition: int, members: Sequence[str]) -> str | None:
    """The member that should serve ``partition`` (None when there is no member)."""
    if not members:
        return None
    return max(members, key=lambda m: (_score(m, partition), m))


def share_of(member: str, members: Sequence[str], partitions: int = DEFAULT_PARTITIONS) -> frozenset[int]:
    """The partitions ``member`` should serve while ``members`` are the live bridges."""
    return frozenset(p for p in range(partitions) if assign(p, members) == member)


def owners_in(
    owner_ids: Iterable[int], held: frozenset[int], partitions: int = DEFAULT_PARTITIONS
) -> set[int]:
    """The owners among ``owner_ids`` whose partition is in ``held``."""
    return {o for o in owner_ids if partition_of(o, partitions) in held}
