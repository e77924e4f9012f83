"""The forum over HTTP: post, comment, like, report, and the moderators' queue, answers and bans."""

from __future__ import annotations

from datetime import timedelta

from builders.accounts import customer_headers, staff_headers
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts.models import Customer
from carloop.accounts.schemas import Role
from carloop.clock import utcnow


def _age_accounts(factory: sessionmaker[Session]) -> None:
    with factory.begin() as session:
        session.execute(update(Customer).values(created_at=utcnow() - timedelta(days=30)))


def test_forum_post_comment_like_report_and_moderate(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    a, b = customer_headers(client, "13800138000"), customer_headers(client, "13800138001")
    ops = staff_headers(client, session_factory, "ops", Role.HQ_OPS)
    _age_accounts(session_factory)
    question = client.post(
        "/api/v1/forum/posts", json={"board": "qa", "title": "How to pair a key?"}, headers=a
    )
    assert question.status_code == 201, question.text
    qid = question.json()["id"]
    assert (
        client.post(
            f"/api/v1/forum/posts/{qid}/comments", json={"body": "Same question"}, headers=b
        ).status_code
        == 201
    )
    assert client.post(f"/api/v1/forum/posts/{qid}/likes", headers=b).json()["likes"] == 1
    answer = client.post(
        f"/api/v1/staff/forum/posts/{qid}/comments", json={"body": "Settings > Keys"}, headers=ops
    )
    official = client.post(
        f"/api/v1/staff/forum/posts/{qid}/official-answer",
        json={"comment_id": answer.json()["id"]},
        headers=ops,
    )
    assert official.json()["official_answer_id"] == answer.json()["id"]
    assert client.post(f"/api/v1/staff/forum/posts/{qid}/helpful", headers=a).status_code == 403

    spam = client.post(
        "/api/v1/forum/posts", json={"board": "stories", "title": "Cheap parts!!"}, headers=b
    ).json()
    client.post(
        "/api/v1/forum/reports",
        json={"target_type": "post", "target_id": spam["id"], "reason": "spam"},
        headers=a,
    )
    [queued] = client.get("/api/v1/staff/forum/reports", headers=ops).json()
    client.post(f"/api/v1/staff/forum/reports/{queued['id']}", json={"hide": True}, headers=ops)
    assert client.get(f"/api/v1/forum/posts/{spam['id']}", headers=a).status_code == 404
    assert [p["id"] for p in client.get("/api/v1/forum/boards/stories", headers=a).json()] == []
    b_id = client.get("/api/v1/me", headers=b).json()["customer_id"]
    client.post(
        "/api/v1/staff/forum/bans", json={"customer_id": b_id, "days": 7, "reason": "spam"}, headers=ops
    )
    banned = client.post("/api/v1/forum/posts", json={"board": "tips", "title": "Another one"}, headers=b)
    assert banned.status_code == 403


def test_a_new_account_is_held_to_one_post_a_day(client: TestClient) -> None:
    newcomer = customer_headers(client, "13800138000")
    first = client.post(
        "/api/v1/forum/posts", json={"board": "stories", "title": "Hello owners"}, headers=newcomer
    )
    assert first.status_code == 201
    second = client.post(
        "/api/v1/forum/posts", json={"board": "stories", "title": "Hello again"}, headers=newcomer
    )
    assert second.status_code == 429
