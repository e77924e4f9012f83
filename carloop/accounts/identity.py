"""Binding a verified identity to one customer account, and the account to that one identity.

An identity counts (for the editions' per-identity limit) only once it is bound: the first verified
number an account gives binds it; afterwards the account may give only that number, and no other
account may give it. A number the account is already bound to is not sent to the real-name verifier
again (it was verified when it was bound; a provider check is paid for and may be down). Services do
not commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple, cast

from sqlalchemy import Table, bindparam, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from carloop import batch_sql
from carloop.accounts import id_numbers
from carloop.accounts import service as accounts
from carloop.accounts.models import IdentityBinding
from carloop.accounts.realname import RealNameVerifier
from carloop.accounts.schemas import Principal
from carloop.errors import Conflict, ErrorCode, PolicyViolation

_bindings = cast(Table, IdentityBinding.__table__)
_BOUND = select(_bindings.c.id_hash).where(_bindings.c.customer_id == bindparam("customer_id"))
# built once, run on the connection: the launch lane asks this once per edition request


def bound_hash(*, session: Session, customer_id: int) -> str | None:
    """The keyed hash of the identity bound to the account, if any."""
    found = session.connection().execute(_BOUND, {"customer_id": customer_id}).scalar()
    return None if found is None else str(found)


def _refusal(session: Session, customer_id: int, id_hash: str) -> Conflict | None:
    mine = bound_hash(session=session, customer_id=customer_id)
    if mine is not None and mine != id_hash:
        return _mismatch()
    owner = session.scalar(select(IdentityBinding.customer_id).where(IdentityBinding.id_hash == id_hash))
    if owner is not None and owner != customer_id:
        return _taken()
    return None


def check_binding(*, session: Session, customer_id: int, id_hash: str) -> Conflict | None:
    """Bind ``id_hash`` (already verified) to the account unless either is bound elsewhere.

    Returns the refusal instead of raising (the reservation batch collects one per request); binding
    the same pair again is a no-op. A concurrent binding is caught by the unique constraints.
    """
    refused = _refusal(session, customer_id, id_hash)
    if refused is not None or bound_hash(session=session, customer_id=customer_id) == id_hash:
        return refused
    try:
        with session.begin_nested():
            session.add(IdentityBinding(customer_id=customer_id, id_hash=id_hash))
            session.flush()
    except IntegrityError:  # another transaction bound one of them first
        return _refusal(session, customer_id, id_hash) or None
    return None


def check_bindings(
    *, session: Session, wanted: Sequence[tuple[int, str | None]], now: datetime
) -> list[tuple[str | None, Conflict | None]]:
    """``check_binding`` for a batch, in order, with two statements: (customer id, verified hash or None).

    Each answer is the identity that counts for the request (the given hash, or the account's bound
    one when none was given) and the refusal, if any. Requests are decided in order, as if one by one:
    the first to give an unbound pair binds it, and later requests of the batch see that binding.
    """
    if not wanted:
        return []
    customers = {c for c, _ in wanted}
    hashes = {h for _, h in wanted if h}
    table = cast(Table, IdentityBinding.__table__)
    query = select(table.c.customer_id, table.c.id_hash).where(
        or_(table.c.customer_id.in_(customers), table.c.id_hash.in_(hashes))
    )
    by_customer: dict[int, str] = {}
    by_hash: dict[str, int] = {}
    for customer_id, id_hash in session.execute(query):
        by_customer[int(customer_id)], by_hash[str(id_hash)] = str(id_hash), int(customer_id)
    answers: list[tuple[str | None, Conflict | None]] = []
    fresh: list[tuple[int, str]] = []
    for customer_id, id_hash in wanted:
        mine = by_customer.get(customer_id)
        if id_hash is None:
            answers.append((mine, None))
            continue
        owner = by_hash.get(id_hash)
        if mine is not None and mine != id_hash:
            answers.append((id_hash, _mismatch()))
        elif owner is not None and owner != customer_id:
            answers.append((id_hash, _taken()))
        else:
            if mine is None:
                by_customer[customer_id], by_hash[id_hash] = id_hash, customer_id
                fresh.append((customer_id, id_hash))
            answers.append((id_hash, None))
    if fresh:
        conn = session.connection()
        at = batch_sql.db_time(conn, table.c.created_at, now)
        batch_sql.insert_many(
            conn, table, ("customer_id", "id_hash", "created_at"), [(c, h, at) for c, h in fresh],
            ignore_conflicts=True,
        )  # fmt: skip
        landed = {
            (int(c), str(h))
            for c, h in session.execute(
                select(table.c.customer_id, table.c.id_hash).where(
                    table.c.customer_id.in_({c for c, _ in fresh})
                )
            )
        }
        lost = {pair for pair in fresh if pair not in landed}  # another transaction bound one first
        if lost:
            answers = [
                (h, _refusal(session, c, h)) if h is not None and (c, h) in lost else (h, refused)
                for (c, h), (_, refused) in zip(wanted, answers, strict=True)
            ]
    return answers


def _mismatch() -> Conflict:
    return Conflict(
        "This account is already bound to a different identity number.",
        code=ErrorCode.IDENTITY_MISMATCH,
        field="id_number",
    )


def _taken() -> Conflict:
    return Conflict(
        "This identity number is already bound to another account.",
        code=ErrorCode.IDENTITY_TAKEN,
        field="id_number",
    )


def bind_identity(
    *,
    session: Session,
    customer_id: int,
    name: str,
    id_number: str,
    verifier: RealNameVerifier,
    identity_key: bytes,
) -> str:
    """Verify ``name`` and ``id_number`` and bind them to the account; the identity's keyed hash.

    Raises the verifier's refusal (it is not asked again for the bound pair), or Conflict when the
    account is bound to another identity or the identity to another account. Idempotent for the same pair.
    """
    id_hash = identify(
        session=session,
        customer_id=customer_id,
        name=name,
        id_number=id_number,
        verifier=verifier,
        identity_key=identity_key,
    )
    refused = check_binding(session=session, customer_id=customer_id, id_hash=id_hash)
    if refused is not None:
        raise refused
    return id_hash


NAME_REQUIRED = "Enter your full name as it is on your identity card, for the real-name check."


def identify(
    *,
    session: Session,
    customer_id: int,
    name: str,
    id_number: str,
    verifier: RealNameVerifier,
    identity_key: bytes,
) -> str:
    """The keyed hash of the identity number a buyer gave, verified (``verified_hash`` of the binding)."""
    return verified_hash(
        bound=bound_hash(session=session, customer_id=customer_id),
        name=name,
        id_number=id_number,
        verifier=verifier,
        identity_key=identity_key,
    )


def verified_hash(
    *, bound: str | None, name: str, id_number: str, verifier: RealNameVerifier, identity_key: bytes
) -> str:
    """The keyed hash of ``id_number``, verified unless it is the account's ``bound`` identity.

    The verifier is asked only when the account is bound to no identity yet: a bound account that
    types another number is refused (identity-mismatch) before any paid provider call. Then the name
    is required. Binding itself happens with the reservation (``check_binding``). Raises the
    verifier's refusal (or its ``Unavailable``), or a PolicyViolation for a missing name. Takes the
    binding read beforehand, so a caller need hold no database connection while the provider answers.
    """
    number = id_number.strip().upper()
    id_hash = id_numbers.identity_hash(identity_key, number)
    if bound == id_hash:
        return id_hash
    if bound is not None:  # bound to another identity: no provider call can change that
        raise _mismatch()
    if not name.strip():
        raise PolicyViolation(NAME_REQUIRED, code=ErrorCode.REALNAME_REQUIRED, field="real_name")
    verified = verifier.verify(name, number)
    return id_numbers.identity_hash(identity_key, verified.id_number)


class Identified(NamedTuple):
    """Who a session token signs in (None: nobody) and, for a customer, the verified identity's hash."""

    principal: Principal | None
    identity_hash: str | None


def identify_before_writing(
    *,
    sessions: sessionmaker[Session],
    token: str,
    name: str,
    id_number: str,
    verifier: RealNameVerifier,
    identity_key: bytes,
) -> Identified:
    """Resolve ``token`` and verify ``id_number`` for its customer before any write transaction opens.

    The session and the binding are read in a short transaction of ``sessions`` that is closed before
    the verifier (a provider call of up to its timeout) is asked, so no pooled connection is held and,
    on SQLite, no write lock while it answers. Nobody signed in, or staff: nothing is verified (the
    caller refuses them). Binding and the per-identity limit are decided later, in the write
    transaction (``check_binding``), so two accounts racing for one identity are still refused there.
    Raises as ``verified_hash`` does.
    """
    with sessions() as session:
        principal = accounts.resolve_sessions(session=session, tokens={token}).get(token)
        customer_id = principal.customer_id if principal is not None else None
        bound = bound_hash(session=session, customer_id=customer_id) if customer_id is not None else None
    if customer_id is None:
        return Identified(principal, None)
    identity = verified_hash(
        bound=bound, name=name, id_number=id_number, verifier=verifier, identity_key=identity_key
    )
    return Identified(principal, identity)
