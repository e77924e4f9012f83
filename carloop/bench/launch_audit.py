"""The launch bench's audit: what the database holds against what clients and the provider were told."""

from __future__ import annotations

import itertools
from typing import Any


def audit(
    url: str,
    jobs: list[Any],
    results: list[Any],
    *,
    killed_at: float | None = None,
    notified: tuple[list[Any], Any] | None = None,
) -> dict[str, Any]:
    """Check what the database holds against what the clients were told (and the provider, if it notified)."""
    from sqlalchemy import func, select

    from carloop.db import make_engine, make_session_factory
    from carloop.ordering import service as ordering_service
    from carloop.ordering.editions import position_gaps
    from carloop.ordering.models import EditionStock, Order
    from carloop.payments.models import JournalEntry, Payment
    from carloop.receipts.models import Receipt
    from carloop.settings import Settings

    acked: dict[str, str] = {}
    before_kill: set[str] = set()
    client_duplicates = 0
    for batch_jobs, res in zip(jobs, results, strict=True):
        for job, answer, at in zip(batch_jobs, res.answers, res.acked_at, strict=True):
            if not answer or "number" not in answer:
                continue
            first = acked.setdefault(job.key, answer["number"])
            if first != answer["number"]:
                client_duplicates += 1
            if killed_at is not None and at and at < killed_at:
                before_kill.add(answer["number"])
    engine = make_engine(Settings(environment="development", database_url=url))
    with make_session_factory(engine)() as session:
        numbers = set(session.scalars(select(Order.number).where(Order.intake_key.is_not(None))))
        stored = len(numbers)
        per_key = session.execute(
            select(func.count()).select_from(
                select(Order.customer_id, Order.intake_key)
                .where(Order.intake_key.is_not(None))
                .group_by(Order.customer_id, Order.intake_key)
                .having(func.count() > 1)
                .subquery()
            )
        ).scalar_one()
        charges = session.execute(
            select(func.count()).select_from(
                select(Payment.order_id)
                .where(Payment.status == "succeeded")
                .group_by(Payment.order_id)
                .having(func.count() > 1)
                .subquery()
            )
        ).scalar_one()
        gaps = 0
        for model in session.scalars(select(Order.model).distinct()):
            found = session.scalars(
                select(Order.queue_position).where(Order.model == model, Order.queue_position.is_not(None))
            )
            gaps += position_gaps(int(p) for p in found if p is not None)
        oversold = 0
        order_violations = 0
        for stock in session.scalars(select(EditionStock)):
            held = list(
                session.execute(
                    select(Order.queue_position, Order.edition_number).where(
                        Order.edition == stock.edition,
                        Order.edition_number.is_not(None),
                        Order.status.not_in(["cancelled", "refunded"]),
                    )
                )
            )
            held_numbers = [int(n or 0) for _, n in held]
            oversold += max(0, len(held) - stock.capacity) + sum(
                1 for n in held_numbers if n > stock.capacity
            )
            oversold += len(held_numbers) - len(set(held_numbers))
            by_position = [int(n or 0) for _, n in sorted(held, key=lambda row: row[0] or 0)]
            order_violations += sum(1 for a, b in itertools.pairwise(by_position) if a > b)
        waitlisted = session.scalar(select(func.count()).where(Order.status == "waitlisted")) or 0
        paid_orders = session.scalar(select(func.count()).where(Order.paid_at.is_not(None))) or 0
        lapsed = (
            session.scalar(select(func.count()).where(Order.status == "cancelled", Order.paid_at.is_(None)))
            or 0
        )
        paid_gaps = 0
        for model in session.scalars(select(Order.model).distinct()):
            found = session.scalars(
                select(Order.queue_position).where(
                    Order.model == model, Order.queue_position.is_not(None), Order.paid_at.is_not(None)
                )
            )
            paid_gaps += position_gaps(int(p) for p in found if p is not None)
        captured = set(session.scalars(select(Payment.trade_no).where(Payment.status == "succeeded")))
        ledger_ok = ordering_service.check_ledger(session=session).ok  # with each order's policy
        # every payment and refund entry has one receipt, and each year's numbers are 1..n
        booked = set(
            session.scalars(select(JournalEntry.id).where(JournalEntry.kind.in_(["payment", "refund"])))
        )
        receipted = list(session.execute(select(Receipt.entry_id, Receipt.year, Receipt.seq)))
        per_year: dict[int, list[int]] = {}
        for _, year, seq in receipted:
            per_year.setdefault(int(year), []).append(int(seq))
        receipt_gaps = sum(
            len(set(range(1, max(v) + 1)) - set(v)) + len(v) - len(set(v)) for v in per_year.values()
        )
        unreceipted = len(booked - {int(e) for e, _, _ in receipted})
    engine.dispose()
    lost = sorted(set(acked.values()) - numbers)
    report = {
        "acknowledged": len(acked),
        "stored": stored,
        "lost": len(lost),
        "duplicates": client_duplicates + int(per_key) + int(charges),
        "oversold": oversold,
        "edition_numbers_out_of_queue_order": order_violations,
        "waitlisted": int(waitlisted),
        "position_gaps": paid_gaps if notified is not None else gaps,
        "held_position_gaps": gaps,
        "paid_orders": int(paid_orders),
        "lapsed": int(lapsed),
        "ledger_balanced": bool(ledger_ok),
        "receipts": len(receipted),
        "entries_without_receipt": unreceipted,
        "receipt_number_gaps_or_repeats": receipt_gaps,
    }
    if notified is not None:
        notify_jobs, notify_res = notified
        acked_trades = {j.key for j, s in zip(notify_jobs, notify_res.status, strict=True) if 200 <= s < 300}
        report["notifications_acknowledged"] = len(acked_trades)
        report["lost_notifications"] = len(acked_trades - captured)
    if killed_at is not None:
        report["acknowledged_before_kill"] = len(before_kill)
        report["lost_acknowledged_before_kill"] = len(before_kill - numbers)
    return report
