"""The demo seeds a usable board and shop; the similar bench runs end to end on a tiny board."""

from __future__ import annotations

import json
from pathlib import Path

from builders.accounts import owner
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from carloop.bench.similar import LABELLED, load_pairs, run_similar
from carloop.cli.main import app
from carloop.community import demo as community_demo
from carloop.community import service
from carloop.loyalty import demo as loyalty_demo
from carloop.loyalty import shop


def test_demo_seeding_is_idempotent_and_fills_the_board_and_shop(session: Session) -> None:
    authors = [owner(session, "13800138000"), owner(session, "13800138001")]
    posted = community_demo.seed_demo(session=session, author_ids=authors)
    assert len(posted) == len(community_demo.DEMO_SUGGESTIONS)
    assert community_demo.seed_demo(session=session, author_ids=authors) == []
    assert service.changelog(session=session)
    loyalty_demo.seed_demo(session=session)
    loyalty_demo.seed_demo(session=session)
    assert len(shop.list_products(session=session)) == len(loyalty_demo.DEMO_PRODUCTS)


def test_the_labelled_set_has_distinct_duplicates_for_existing_targets() -> None:
    pairs = load_pairs(LABELLED)
    assert len(pairs) >= 50
    assert len({d for _, d in pairs}) == len(pairs)
    assert all(t != d for t, d in pairs)


def test_bench_similar_reports_latency_and_recall_on_a_tiny_board(tmp_path: Path) -> None:
    report = run_similar(posts=300, extra_lookups=5, database_url=None, labelled=LABELLED, show=False)
    assert report["posts"] == 300 and report["lookups"] == len(load_pairs(LABELLED)) + 5
    assert 0.0 <= report["recall_at_5"] <= 1.0 and report["p95_ms"] >= report["p50_ms"] > 0
    assert report["recall_at_5"] >= 0.5  # a broken index would find next to nothing


def test_bench_similar_json_prints_one_object() -> None:
    result = CliRunner().invoke(app, ["bench", "similar", "--posts", "300", "--extra-lookups", "0", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["bench"] == "similar"
