"""The co-creation board: votes, similar ideas, statuses and notices, merge and unmerge, "solved?"."""

from __future__ import annotations

import pytest
from builders.accounts import owner
from sqlalchemy.orm import Session

from carloop.audit import service as audit
from carloop.community import feedback, notices, service
from carloop.community.rules import Category, NoticeKind, SuggestionStatus
from carloop.errors import Conflict, InvalidTransition, PolicyViolation
from carloop.loyalty import service as loyalty
from carloop.loyalty.rules import EARN_RULES, EarnReason
from carloop.notices import service as one_inbox

from .conftest import STAFF

S = SuggestionStatus


def _idea(session: Session, author: int, title: str, body: str = "") -> int:
    return service.create_suggestion(
        session=session, author_id=author, title=title, body=body, category=Category.CABIN, model="su7"
    ).id


def test_one_vote_per_owner_and_voters_follow(session: Session) -> None:
    a, b = owner(session, "13800138001"), owner(session, "13800138002")
    sid = _idea(session, a, "Ventilated front seats")
    idea = service.get(session=session, suggestion_id=sid)
    service.vote(session=session, suggestion=idea, customer_id=b)
    service.vote(session=session, suggestion=idea, customer_id=b)
    assert service.vote_counts(session=session, suggestion_ids=[sid]) == {sid: 1}
    assert service.followers(session=session, suggestion_id=sid) == {a, b}
    service.unvote(session=session, suggestion=idea, customer_id=b)
    assert service.vote_counts(session=session, suggestion_ids=[sid]) == {sid: 0}


def test_board_notices_are_bilingual_in_the_one_inbox_by_app_and_e_mail_never_by_sms(
    session: Session,
) -> None:
    author, voter, reader = (owner(session, p) for p in ("13800138001", "13800138002", "13800138003"))
    sid = _idea(session, author, "Pet mode keeps the cabin cool")
    idea = service.get(session=session, suggestion_id=sid)
    for who in (voter, reader):
        service.vote(session=session, suggestion=idea, customer_id=who)
    one_inbox.set_preferences(  # SMS on, and an address: still no text message for a board notice
        session=session, customer_id=reader, locale="en", email="r@example.com", email_on=True, sms_on=True
    )
    service.move(session=session, principal=STAFF, suggestion=idea, target=S.PLANNED, note="Q3 OTA")
    [planned] = notices.notices_of(session=session, customer_id=voter)
    assert (planned.kind, planned.source, planned.link) == (
        "status_changed",
        "community",
        f"/community/suggestions/{sid}",
    )
    assert (planned.subject_en, planned.subject_zh) == ("Pet mode keeps the cabin cool",) * 2
    assert (planned.body_en, planned.body_zh) == ("Now planned (Q3 OTA).", "现在：已规划（Q3 OTA）。")
    assert [n.id for n in one_inbox.inbox(session=session, customer_id=voter)] == [planned.id]
    channels = {d.channel for d in one_inbox.deliveries(session=session, notice_id=planned.id)}
    assert channels == {"inapp"}
    [told] = notices.notices_of(session=session, customer_id=reader)
    channels = {d.channel for d in one_inbox.deliveries(session=session, notice_id=told.id)}
    assert channels == {"inapp", "email"}
    [view] = one_inbox.views(session=session, customer_id=reader, locale="en")
    assert (view.subject, view.body, view.link) == (told.subject_en, "Now planned (Q3 OTA).", told.link)


def test_typing_a_duplicate_finds_the_existing_idea_in_chinese_and_english(session: Session) -> None:
    a = owner(session)
    seats = _idea(session, a, "希望增加座椅通风功能", "夏天座椅太热")
    _idea(session, a, "导航语音播报音量太小")
    wipers = _idea(session, a, "Automatic wipers react too slowly in light rain")
    assert service.similar(session=session, text="座椅通风")[0][0].id == seats
    assert service.similar(session=session, text="auto wiper too slow")[0][0].id == wipers
    assert (
        service.similar(session=session, text="ventilated seats please")[0][0].id == seats
    )  # glossary bridge
    later = _idea(session, a, "Wireless phone charger overheats")  # the index catches up with new rows
    assert service.similar(session=session, text="phone charger overheating")[0][0].id == later


def test_status_changes_notify_followers_and_shipping_asks_voters(session: Session) -> None:
    author, voter = owner(session, "13800138001"), owner(session, "13800138002")
    sid = _idea(session, author, "Pet mode keeps the cabin cool")
    idea = service.get(session=session, suggestion_id=sid)
    service.vote(session=session, suggestion=idea, customer_id=voter)
    for target in (S.UNDER_REVIEW, S.PLANNED, S.IN_DEVELOPMENT, S.SHIPPED):
        service.move(session=session, principal=STAFF, suggestion=idea, target=target, note=f"now {target}")
    kinds = [n.kind for n in notices.notices_of(session=session, customer_id=voter)]
    assert kinds.count(NoticeKind.STATUS_CHANGED) == 4 and kinds.count(NoticeKind.SOLVED_QUESTION) == 1
    author_kinds = [n.kind for n in notices.notices_of(session=session, customer_id=author)]
    assert NoticeKind.SOLVED_QUESTION not in author_kinds  # the author did not vote
    assert feedback.pending_solved_question(session=session, suggestion=idea, customer_id=voter)
    accepted = EARN_RULES[EarnReason.SUGGESTION_ACCEPTED]
    assert loyalty.balance(session=session, customer_id=author) == accepted.points  # once, not per stage
    assert [h.to_status for h in service.history(session=session, suggestion_id=sid)] == [
        "submitted",
        "under_review",
        "planned",
        "in_development",
        "shipped",
    ]
    assert service.changelog(session=session)[0].id == sid
    assert len(audit.list_entries(session=session, action="suggestion.status")) == 4


def test_illegal_moves_and_reasonless_declines_are_refused(session: Session) -> None:
    sid = _idea(session, owner(session), "Bigger cup holders")
    idea = service.get(session=session, suggestion_id=sid)
    with pytest.raises(InvalidTransition):
        service.move(session=session, principal=STAFF, suggestion=idea, target=S.SHIPPED)
    with pytest.raises(PolicyViolation):
        service.move(session=session, principal=STAFF, suggestion=idea, target=S.DECLINED)
    service.move(
        session=session, principal=STAFF, suggestion=idea, target=S.DECLINED, note="Cabin layout is fixed"
    )
    assert idea.decline_reason == "Cabin layout is fixed"


def test_merge_moves_unique_voters_and_unmerge_restores_them(session: Session) -> None:
    a, b, c, d = (owner(session, f"1380013800{i}") for i in range(4))
    kept_id = _idea(session, a, "Seat ventilation")
    dup_id = _idea(session, b, "Ventilated seats please")
    kept, dup = (
        service.get(session=session, suggestion_id=kept_id),
        service.get(session=session, suggestion_id=dup_id),
    )
    service.vote(session=session, suggestion=kept, customer_id=c)
    service.vote(session=session, suggestion=dup, customer_id=c)  # c voted on both
    service.vote(session=session, suggestion=dup, customer_id=d)
    service.merge(session=session, principal=STAFF, duplicate=dup, kept=kept)
    assert service.vote_counts(session=session, suggestion_ids=[kept_id]) == {kept_id: 2}  # c once, d
    assert service.followers(session=session, suggestion_id=kept_id) == {a, b, c, d}
    assert service.resolve(session=session, suggestion=dup).id == kept_id
    assert dup_id not in [s.id for s in service.board(session=session)]
    assert all(s.id != dup_id for s, _ in service.similar(session=session, text="ventilated seats"))
    assert (
        service.vote(session=session, suggestion=dup, customer_id=d).id == kept_id
    )  # redirect, still one vote
    assert service.vote_counts(session=session, suggestion_ids=[kept_id]) == {kept_id: 2}
    assert [n.kind for n in notices.notices_of(session=session, customer_id=b)] == [NoticeKind.MERGED]
    with pytest.raises(Conflict):
        service.merge(session=session, principal=STAFF, duplicate=dup, kept=kept)

    service.unmerge(session=session, principal=STAFF, duplicate=dup)
    assert service.vote_counts(session=session, suggestion_ids=[kept_id, dup_id]) == {kept_id: 1, dup_id: 2}
    assert service.followers(session=session, suggestion_id=dup_id) == {b, c, d}
    assert any(s.id == dup_id for s, _ in service.similar(session=session, text="ventilated seats"))
    actions = {e.action for e in audit.list_entries(session=session, target_type="suggestion")}
    assert {"suggestion.merge", "suggestion.unmerge"} <= actions


def test_enough_not_solved_answers_open_one_linked_follow_up(session: Session) -> None:
    author = owner(session, "13800138000")
    voters = [owner(session, f"1390013900{i}") for i in range(5)]
    sid = _idea(session, author, "Phone key unlocks too slowly")
    idea = service.get(session=session, suggestion_id=sid)
    for v in voters:
        service.vote(session=session, suggestion=idea, customer_id=v)
    for target in (S.PLANNED, S.IN_DEVELOPMENT, S.SHIPPED):
        service.move(session=session, principal=STAFF, suggestion=idea, target=target)
    with pytest.raises(PolicyViolation):
        feedback.answer_solved(
            session=session, suggestion=idea, customer_id=author, solved=True
        )  # not a voter
    assert (
        feedback.answer_solved(session=session, suggestion=idea, customer_id=voters[0], solved=True) is None
    )
    assert (
        feedback.answer_solved(session=session, suggestion=idea, customer_id=voters[1], solved=False) is None
    )
    assert (
        feedback.answer_solved(session=session, suggestion=idea, customer_id=voters[2], solved=False) is None
    )
    follow_up = feedback.answer_solved(session=session, suggestion=idea, customer_id=voters[3], solved=False)
    assert follow_up is not None and follow_up.follow_up_of_id == sid
    assert follow_up.status is S.UNDER_REVIEW
    again = feedback.answer_solved(session=session, suggestion=idea, customer_id=voters[4], solved=False)
    assert again is not None and again.id == follow_up.id
    assert service.followers(session=session, suggestion_id=follow_up.id) == set(voters[1:])
