"""Pricing of reservations: HQ's catalog version and deposit terms in force, and memoised quotes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from carloop import batch_sql as sql
from carloop.catalog import rules as catalog_rules
from carloop.catalog import service as catalog
from carloop.catalog.schemas import ConfigurationIn, DepositPolicy, Quote
from carloop.clock import utcnow
from carloop.ordering import terms


@dataclass(frozen=True, slots=True)
class PricingContext:
    """What HQ set that prices a reservation: the catalog version in force and the deposit overrides.

    ``deposits`` maps ``(model, trim)`` (trim ``""``: the whole model) to the override's terms, as
    ``terms.effective_deposit`` reads them: the trim's override, else the model's, else the catalog's.
    """

    version: str
    deposits: tuple[tuple[tuple[str, str], DepositPolicy], ...] = ()

    def deposit_for(self, model: str, trim: str, policy: DepositPolicy) -> DepositPolicy:
        """The deposit terms in force for a trim."""
        found = dict(self.deposits)
        return found.get((model, trim)) or found.get((model, "")) or policy


_latest: list[PricingContext] = []  # the last context a batch read (a hint for pricing before the batch)


def load_context(session: Session) -> PricingContext:
    """The pricing context in force, read in the caller's transaction (two small queries)."""
    context = PricingContext(
        version=catalog.active_catalog_version(session=session),
        deposits=tuple(
            (
                (row.model, row.trim),
                DepositPolicy(
                    amount_fen=row.amount_fen,
                    refundable_hours=row.refundable_hours,
                    auto_lock=row.auto_lock,
                    lock_at_payment=row.lock_at_payment,
                ),
            )
            for row in terms.list_deposit_overrides(session=session)
        ),
    )
    if _latest and _latest[0] == context:
        return _latest[0]  # the same object, so tickets priced under it compare with ``is``
    _latest[:] = [context]
    return context


def latest_context() -> PricingContext:
    """The context the last batch of this process read, or the newest catalog with no overrides."""
    return _latest[0] if _latest else PricingContext(version=catalog.current_version())


_quotes: dict[tuple[Any, ...], tuple[Quote, dict[str, Any], str, str]] = {}


def price_cached(
    config: ConfigurationIn, context: PricingContext | None = None
) -> tuple[Quote, dict[str, Any], str, str]:
    """Price through the compiled catalog rules and HQ's deposit terms, memoised per configuration,
    context and running incentives."""
    context = context or latest_context()
    now = utcnow()
    model = catalog.current_catalog().models.get(config.model)
    running = (
        frozenset(i.code for i in catalog_rules.active_incentives(model, at=now)) if model else frozenset()
    )
    key = (context, config.model, config.trim, tuple(config.options), running)
    hit = _quotes.get(key)
    if hit is None:
        quote = catalog.quote(config=config, at=now, version=context.version)
        deposit = context.deposit_for(quote.model, quote.trim, quote.deposit)
        if deposit != quote.deposit:
            quote = quote.model_copy(update={"deposit": deposit})
        dumped = quote.model_dump(mode="json")
        hit = (quote, dumped, sql.dumps(dumped), sql.dumps(list(quote.options)))
        if len(_quotes) > 20_000:
            _quotes.clear()
        _quotes[key] = hit
    return hit
