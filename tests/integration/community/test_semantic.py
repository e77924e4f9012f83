"""Suggestion embeddings: written via the outbox after a post, backfilled by a command, fused at search."""

from __future__ import annotations

import json
import threading

from builders.accounts import owner
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from carloop.cli.main import app
from carloop.community import embedding, index, service, warmup
from carloop.community.events import SuggestionTextChanged
from carloop.community.models import Suggestion
from carloop.community.rules import Category
from carloop.handlers import all_handlers
from carloop.outbox.models import OutboxEvent
from carloop.outbox.service import dispatch
from carloop.settings import Settings


def _post(factory: sessionmaker[Session], title: str) -> int:
    with factory.begin() as session:
        author = owner(session, f"1380013{abs(hash(title)) % 10000:04d}")
        return service.create_suggestion(
            session=session, author_id=author, title=title, body="", category=Category.CABIN
        ).id


def test_posting_publishes_the_embedding_job_and_the_outbox_writes_the_vector(
    session_factory: sessionmaker[Session],
) -> None:
    sid = _post(session_factory, "希望增加座椅迎宾功能，上下车时自动后移")
    with session_factory() as session:
        row = session.get(Suggestion, sid)
        assert row is not None and row.embedding is None  # posting does not wait for the model
        updated = row.updated_at
        events = session.scalars(
            select(OutboxEvent).where(OutboxEvent.name == SuggestionTextChanged.name)
        ).all()
        assert [e.payload for e in events] == [{"suggestion_id": sid}]
    dispatch(session_factory, all_handlers())
    with session_factory() as session:
        row = session.get(Suggestion, sid)
        assert row is not None and row.embedding is not None
        assert row.embedding_model == embedding.MODEL
        assert row.embedded_at is not None
        assert row.updated_at == updated  # the board's "recently changed" order is not disturbed
        assert len(embedding.from_bytes(row.embedding)) == embedding.DIM


def test_a_cross_language_paraphrase_is_found_once_the_vector_is_in(
    session_factory: sessionmaker[Session],
) -> None:
    seat = _post(session_factory, "希望增加座椅迎宾功能，上下车时自动后移")
    for title in ("导航语音播报音量太小", "充电桩地图显示的空闲状态不准确", "车门把手冬天结冰无法弹出"):
        _post(session_factory, title)
    typed = "the seat should slide back automatically when I get out"
    with session_factory() as session:  # no vectors yet: the lexical index alone answers
        before = [s.id for s, _ in service.similar(session=session, text=typed)]
    dispatch(session_factory, all_handlers())  # the handler tells this process's index to catch up
    with session_factory() as session:
        found = service.similar(session=session, text=typed)
    assert found[0][0].id == seat, (before, [s.title for s, _ in found])
    with session_factory() as session:  # an exact title still comes first
        exact = service.similar(session=session, text="导航语音播报音量太小")
    assert exact[0][0].title == "导航语音播报音量太小"


def test_merged_suggestions_are_not_hinted_by_meaning_either(session_factory: sessionmaker[Session]) -> None:
    kept = _post(session_factory, "Close the windows automatically when locking")
    dup = _post(session_factory, "windows should shut by themselves when I lock the car")
    dispatch(session_factory, all_handlers())
    with session_factory.begin() as session:
        session.execute(update(Suggestion).where(Suggestion.id == dup).values(merged_into_id=kept))
    with session_factory() as session:
        index.mark_stale(session=session)
        ids = [s.id for s, _ in service.similar(session=session, text="锁车后车窗自动关闭")]
    assert kept in ids and dup not in ids


def test_reindex_backfills_an_existing_board(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    ids = [
        _post(session_factory, t)
        for t in ("Rear seat heating", "后排座椅希望增加加热功能", "Rear seat heating")
    ]
    with session_factory.begin() as session:  # a board from before embeddings: no vector, no outbox job
        session.execute(delete(OutboxEvent))
    runner = CliRunner()
    result = runner.invoke(app, ["community", "reindex", "--database-url", settings.database_url, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["embedded"] == 3
    with session_factory() as session:
        rows = session.scalars(select(Suggestion).where(Suggestion.id.in_(ids))).all()
        assert all(r.embedding is not None and r.embedding_model == embedding.MODEL for r in rows)
    again = runner.invoke(app, ["community", "reindex", "--database-url", settings.database_url, "--json"])
    assert json.loads(again.output)["embedded"] == 0  # nothing left to do
    everything = runner.invoke(
        app, ["community", "reindex", "--all", "--database-url", settings.database_url]
    )
    assert everything.exit_code == 0 and "3 suggestions embedded" in everything.output


def test_start_up_warms_the_encoder_and_builds_the_indexes(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    _post(session_factory, "Rear seat heating")
    dispatch(session_factory, all_handlers())
    index._STATES.clear()  # a fresh process: nothing built yet
    assert not warmup.enabled(settings)  # tests start servers without it
    assert warmup.enabled(settings.model_copy(update={"environment": "production"}))
    assert not warmup.enabled(
        settings.model_copy(update={"environment": "production", "similar_warmup": False})
    )
    stop = warmup.start(settings.model_copy(update={"similar_warmup": True}), session_factory)
    stop()
    for thread in threading.enumerate():
        if thread.name == "carloop-similar-warmup":
            thread.join()
    with session_factory() as session:
        stats = index.stats(session=session)
    assert stats["texts"] == 1 and stats["vectors"] == 1
