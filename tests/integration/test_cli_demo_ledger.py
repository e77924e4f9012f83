"""`carloop demo` seeds a database whose ledger checks clean; a tampered posting makes the check fail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from carloop.cli.main import app


@pytest.fixture
def demo_db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/demo.db"
    result = CliRunner().invoke(app, ["demo", "--no-serve", "--launch-orders", "300", "--database-url", url])
    assert result.exit_code == 0, result.output
    assert "13800138000" in result.output
    return url


def test_ledger_check_passes_after_the_demo(demo_db: str) -> None:
    result = CliRunner().invoke(app, ["ledger", "check", "--json", "--database-url", demo_db])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ok"] is True and report["entries"] >= 5


def test_demo_is_idempotent(demo_db: str) -> None:
    def orders() -> int:
        engine = create_engine(demo_db)
        with engine.connect() as conn:
            count = int(conn.execute(text("SELECT count(*) FROM orders")).scalar_one())
        engine.dispose()
        return count

    before = orders()
    again = CliRunner().invoke(
        app, ["demo", "--no-serve", "--launch-orders", "300", "--database-url", demo_db]
    )
    assert again.exit_code == 0, again.output
    assert orders() == before


def test_a_tampered_posting_fails_the_check_and_names_the_order(demo_db: str) -> None:
    engine = create_engine(demo_db)
    with engine.begin() as conn:
        posting_id, order_id = conn.execute(
            text(
                "SELECT id, order_id FROM postings WHERE account = 'customer_prepayments' ORDER BY id LIMIT 1"
            )
        ).one()
        conn.execute(
            text("UPDATE postings SET amount_fen = amount_fen + 1 WHERE id = :id"), {"id": posting_id}
        )
    engine.dispose()
    result = CliRunner().invoke(app, ["ledger", "check", "--database-url", demo_db])
    assert result.exit_code == 1
    assert f"order {order_id}" in result.output
    assert "NOT balanced" in result.output


def test_an_ended_order_that_still_holds_money_fails_the_check_and_names_it(demo_db: str) -> None:
    engine = create_engine(demo_db)
    with engine.begin() as conn:
        order_id, number = conn.execute(
            text(
                "SELECT o.id, o.number FROM orders o JOIN payments p ON p.order_id = o.id "
                "WHERE p.status = 'succeeded' AND o.status = 'reserved' ORDER BY o.id LIMIT 1"
            )
        ).one()
        conn.execute(text("UPDATE orders SET status = 'cancelled' WHERE id = :id"), {"id": order_id})
    engine.dispose()
    result = CliRunner().invoke(app, ["ledger", "check", "--json", "--database-url", demo_db])
    assert result.exit_code == 1
    breaches = json.loads(result.output)["policy_breaches"]
    assert [(b["number"], b["breach"]) for b in breaches] == [(number, "kept_after_end")]
