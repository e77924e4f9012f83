"""Everything the intake checks before a request may queue: shape, catalog rules, identity number."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from carloop.catalog import rules as catalog_rules
from carloop.catalog import service as catalog
from carloop.catalog.schemas import ConfigurationIn, Quote
from carloop.clock import utcnow
from carloop.errors import DomainError, InvalidConfiguration
from carloop.ordering import idempotency
from carloop.ordering.intake import rules as intake_rules
from carloop.ordering.intake import sql
from carloop.ordering.intake.store import PATH, Outcome, Ticket


class IntakeOrderCreate(BaseModel):
    """A launch-day reservation: the configuration and, for limited editions, the identity number."""

    model_config = ConfigDict(extra="forbid")

    configuration: ConfigurationIn
    id_number: str | None = Field(default=None, min_length=15, max_length=20)


_quotes: dict[tuple[Any, ...], tuple[Quote, dict[str, Any], str, str]] = {}


def price_cached(config: ConfigurationIn) -> tuple[Quote, dict[str, Any], str, str]:
    """Price through the compiled catalog rules, memoised per configuration and running incentives."""
    now = utcnow()
    version = catalog.current_version()
    model = catalog.current_catalog().models.get(config.model)
    running = (
        frozenset(i.code for i in catalog_rules.active_incentives(model, at=now)) if model else frozenset()
    )
    key = (version, config.model, config.trim, tuple(config.options), running)
    hit = _quotes.get(key)
    if hit is None:
        quote = catalog.quote(config=config, at=now, version=version)
        dumped = quote.model_dump(mode="json")
        hit = (quote, dumped, sql.dumps(dumped), sql.dumps(list(quote.options)))
        if len(_quotes) > 20_000:
            _quotes.clear()
        _quotes[key] = hit
    return hit


def identity_hash(identity_key: bytes, id_number: str) -> str:
    """The keyed hash an identity number is stored as (never the number itself)."""
    return hmac.new(identity_key, id_number.strip().upper().encode(), hashlib.sha256).hexdigest()


def problem(status: int, code: str, detail: str, **extra: Any) -> Outcome:
    """A problem+json answer of the intake."""
    body = {"type": "https://carloop.dev/problems/" + code, "status": status, "detail": detail, "code": code}
    return Outcome(status, {**body, "instance": PATH, **extra})


def prepare_ticket(
    *, body: IntakeOrderCreate, customer_id: int, actor: str, key: str, identity_key: bytes
) -> Ticket | Outcome:
    """Validate a reservation against the compiled catalog and the identity rules; a ticket or a 422."""
    try:
        quote, quote_json, quote_text, options_json = price_cached(body.configuration)
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
        request_hash=idempotency.fingerprint("POST", PATH, body.model_dump(mode="json")),
        quote=quote,
        quote_json=quote_json,
        identity_hash=identity,
        quote_text=quote_text,
        options_json=options_json,
    )
