"""Everything the intake checks before a request may queue: shape, catalog rules, identity number."""

from __future__ import annotations

import hashlib
import hmac

import orjson
from pydantic import BaseModel, ConfigDict, Field

from carloop.catalog.schemas import ConfigurationIn
from carloop.errors import DomainError, InvalidConfiguration
from carloop.ordering.intake import rules as intake_rules
from carloop.ordering.intake.pricing import PricingContext, latest_context, price_cached
from carloop.ordering.intake.store import PATH, Outcome, Ticket, problem


class IntakeOrderCreate(BaseModel):
    """A launch-day reservation: the configuration and, for limited editions, the identity number."""

    model_config = ConfigDict(extra="forbid")

    configuration: ConfigurationIn
    id_number: str | None = Field(default=None, min_length=15, max_length=20)


def identity_hash(identity_key: bytes, id_number: str) -> str:
    """The keyed hash an identity number is stored as (never the number itself)."""
    return hmac.new(identity_key, id_number.strip().upper().encode(), hashlib.sha256).hexdigest()


def fingerprint(body: IntakeOrderCreate) -> str:
    """What was asked, hashed to tell a true retry from a reused key (canonical JSON, keys sorted)."""
    canonical = orjson.dumps(["POST", PATH, body.model_dump(mode="json")], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def prepare_ticket(
    *,
    body: IntakeOrderCreate,
    customer_id: int,
    actor: str,
    key: str,
    identity_key: bytes,
    token: str = "",
    context: PricingContext | None = None,
) -> Ticket | Outcome:
    """Validate a reservation against the compiled catalog and the identity rules; a ticket or a 422.

    With ``token`` the buyer is not known yet: the group commit resolves the session (``customer_id``
    and ``actor`` are then placeholders). Without ``context`` the last one this process read is used;
    the group commit prices the ticket again if HQ changed the catalog version or a deposit since.
    """
    context = context or latest_context()
    try:
        quote, quote_json, quote_text, options_json = price_cached(body.configuration, context)
    except InvalidConfiguration as err:
        return problem(422, str(err.code), err.message, problems=err.problems)
    except DomainError as err:
        return problem(422, str(err.code), err.message)
    identity = None
    if body.id_number is not None:
        if not intake_rules.valid_id_number(body.id_number):
            return problem(422, "validation-error", "Invalid input: id_number.", field="id_number")
        identity = identity_hash(identity_key, body.id_number)
    return Ticket(
        scope=actor,
        customer_id=customer_id,
        key=key,
        request_hash=fingerprint(body),
        quote=quote,
        quote_json=quote_json,
        identity_hash=identity,
        quote_text=quote_text,
        options_json=options_json,
        config=body.configuration,
        context=context,
        token=token,
    )
