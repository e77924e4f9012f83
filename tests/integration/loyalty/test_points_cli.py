"""``carloop points expire``: lapses expired points for every owner, once, through the points ledger."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from builders.accounts import owner
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from carloop.cli.main import app
from carloop.loyalty import ledger, service
from carloop.loyalty.rules import EarnReason


def test_points_expire_lapses_every_owners_expired_lots_once(
    database_url: str, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        old, recent, spender = (
            owner(session, "13800138000"),
            owner(session, "13800138001"),
            owner(session, "13800138002"),
        )
        long_ago = datetime(2022, 6, 1, tzinfo=UTC)
        for who in (old, spender):
            service.award_points(
                session=session, customer_id=who, reason=EarnReason.EVENT_CHECKIN, key=f"o{who}", now=long_ago
            )
        service.award_points(session=session, customer_id=recent, reason=EarnReason.EVENT_CHECKIN, key="r")
        service.spend_points(session=session, customer_id=spender, points=100, key="all")
    runner = CliRunner()
    first = runner.invoke(app, ["points", "expire", "--database-url", database_url, "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.output) == {"owners_checked": 2, "owners_expired": 1, "points_expired": 100}
    second = runner.invoke(app, ["points", "expire", "--database-url", database_url, "--json"])
    assert json.loads(second.output)["points_expired"] == 0
    with session_factory() as session:
        balances = [service.balance(session=session, customer_id=c) for c in (old, recent, spender)]
        assert balances == [0, 100, 0]
        assert ledger.check(session=session).ok
