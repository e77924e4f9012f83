"""The board over HTTP and in pages: similar while typing, votes, staff moves, merge and unmerge, notices."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from builders.accounts import csrf_of, customer_headers, staff_headers
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts.schemas import Role
from carloop.community import index

HTML = {"Accept": "text/html"}


@pytest.fixture(autouse=True)
def _fresh_similar_index() -> Iterator[None]:
    index._STATES.clear()  # PostgreSQL tests reuse one database URL with ids restarted
    yield
    index._STATES.clear()


def _post(client: TestClient, headers: dict[str, str], title: str, category: str = "cabin") -> int:
    response = client.post(
        "/api/v1/suggestions", json={"title": title, "category": category}, headers=headers
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_similar_while_typing_flags_likely_duplicates(client: TestClient) -> None:
    owner = customer_headers(client, "13800138000")
    seats = _post(client, owner, "希望增加前排座椅通风功能")
    _post(client, owner, "Navigation voice prompts are too quiet", "software")
    found = client.get("/api/v1/suggestions/similar", params={"q": "座椅通风"}, headers=owner).json()
    assert found[0]["id"] == seats and found[0]["likely_duplicate"]
    english = client.get(
        "/api/v1/suggestions/similar", params={"q": "nav voice too quiet"}, headers=owner
    ).json()
    assert english[0]["title"] == "Navigation voice prompts are too quiet"
    unrelated = client.get(
        "/api/v1/suggestions/similar", params={"q": "bigger cup holders"}, headers=owner
    ).json()
    assert not any(s["likely_duplicate"] for s in unrelated)
    assert client.get("/api/v1/suggestions/similar", params={"q": "x"}).status_code == 401


def test_votes_statuses_and_the_solved_question_over_the_api(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    author, voter = customer_headers(client, "13800138000"), customer_headers(client, "13800138001")
    ops = staff_headers(client, session_factory, "ops", Role.HQ_OPS)
    sid = _post(client, author, "Pet mode keeps the cabin cool")
    assert client.post(f"/api/v1/suggestions/{sid}/votes", headers=voter).json()["votes"] == 1
    assert client.post(f"/api/v1/suggestions/{sid}/votes", headers=voter).json()["votes"] == 1
    assert (
        client.post(
            f"/api/v1/staff/suggestions/{sid}/status", json={"status": "planned"}, headers=voter
        ).status_code
        == 403
    )
    skipped = client.post(f"/api/v1/staff/suggestions/{sid}/status", json={"status": "shipped"}, headers=ops)
    assert skipped.status_code == 409
    for status in ("planned", "in_development", "shipped"):
        moved = client.post(f"/api/v1/staff/suggestions/{sid}/status", json={"status": status}, headers=ops)
        assert moved.status_code == 200, moved.text
    told = client.get("/api/v1/notices", headers=voter).json()
    kinds = [n["kind"] for n in told]
    assert kinds.count("status_changed") == 3 and "solved_question" in kinds
    assert {n["link"] for n in told} == {f"/community/suggestions/{sid}"}
    assert {n["subject"] for n in told} == {"Pet mode keeps the cabin cool"}
    assert told[0]["body"] == "已上线——它解决您的问题了吗？"  # newest first, in the voter's language
    answer = client.post(f"/api/v1/suggestions/{sid}/solved", json={"solved": False}, headers=voter).json()
    assert answer == {"yes": 0, "no": 1, "follow_up_id": None}
    assert [s["id"] for s in client.get("/api/v1/changelog", headers=voter).json()] == [sid]
    assert client.get("/api/v1/points/me", headers=author).json()["balance"] == 500


def test_staff_merge_redirects_and_unmerge_restores_over_the_api(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    a, b = customer_headers(client, "13800138000"), customer_headers(client, "13800138001")
    ops = staff_headers(client, session_factory, "ops", Role.HQ_OPS)
    kept, dup = _post(client, a, "Seat ventilation"), _post(client, b, "Ventilated seats please")
    client.post(f"/api/v1/suggestions/{dup}/votes", headers=a)
    merged = client.post(f"/api/v1/staff/suggestions/{dup}/merge", json={"into": kept}, headers=ops)
    assert merged.json()["votes"] == 1
    redirected = client.get(f"/api/v1/suggestions/{dup}", headers=a, follow_redirects=False)
    assert redirected.status_code == 308 and redirected.headers["location"] == f"/api/v1/suggestions/{kept}"
    assert client.post(f"/api/v1/suggestions/{dup}/votes", headers=a).json()["id"] == kept
    restored = client.post(f"/api/v1/staff/suggestions/{dup}/unmerge", headers=ops).json()
    assert restored["merged_into_id"] is None and restored["votes"] == 1
    assert client.get(f"/api/v1/suggestions/{kept}", headers=a).json()["votes"] == 0


def test_the_owner_loop_in_pages(client: TestClient, session_factory: sessionmaker[Session]) -> None:
    """Post while a likely duplicate is shown, vote, follow staff moving it to shipped, answer "solved?"."""
    owner = customer_headers(client, "13800138000")
    existing = _post(
        client, customer_headers(client, "13800138002"), "Automatic wipers react too slowly in light rain"
    )
    ops = staff_headers(client, session_factory, "ops", Role.HQ_OPS)

    client.cookies.set("carloop_session", owner["Authorization"].removeprefix("Bearer "))
    board = client.get("/community?lang=en", headers=HTML)
    assert (
        board.status_code == 200
        and 'id="similar-live"' in board.text
        and "/static/community.js" in board.text
    )
    csrf = csrf_of(board.text)
    form = {"csrf_token": csrf, "title": "auto wipers too slow in drizzle", "category": "driving"}
    warned = client.post("/community/suggestions", data=form, headers=HTML)
    assert warned.status_code == 200 and 'data-testid="likely-duplicates"' in warned.text
    assert f"/community/suggestions/{existing}" in warned.text
    client.post(f"/community/suggestions/{existing}/vote", data={"csrf_token": csrf}, headers=HTML)
    posted = client.post(
        "/community/suggestions", data={**form, "confirmed": "true"}, headers=HTML, follow_redirects=False
    )
    assert posted.status_code == 303
    page = client.get(f"/community/suggestions/{existing}", headers=HTML)
    assert 'data-testid="unvote"' in page.text and "1 votes" in page.text

    client.cookies.set("carloop_session", ops["Authorization"].removeprefix("Bearer "))
    staff_page = client.get(f"/community/suggestions/{existing}", headers=HTML)
    staff_csrf = csrf_of(staff_page.text)
    for status in ("under_review", "planned", "in_development", "shipped"):
        moved = client.post(
            f"/community/suggestions/{existing}/status",
            data={"csrf_token": staff_csrf, "status": status, "note": "OTA 3.2"},
            headers=HTML,
        )
        assert moved.status_code == 200, moved.text
    own_id = int(posted.headers["location"].rsplit("/", 1)[1])
    client.post(
        f"/community/suggestions/{own_id}/merge",
        data={"csrf_token": staff_csrf, "into": existing},
        headers=HTML,
    )
    merged_page = client.get(f"/community/suggestions/{existing}", headers=HTML)
    assert f'data-testid="unmerge-{own_id}"' in merged_page.text
    client.post(f"/community/suggestions/{own_id}/unmerge", data={"csrf_token": staff_csrf}, headers=HTML)
    assert (
        'data-testid="merged-notice"' not in client.get(f"/community/suggestions/{own_id}", headers=HTML).text
    )

    client.cookies.set("carloop_session", owner["Authorization"].removeprefix("Bearer "))
    old_link = client.get("/community/notices?lang=en", headers=HTML, follow_redirects=False)
    assert old_link.status_code == 303 and old_link.headers["location"] == "/me/notices"
    inbox = client.get("/me/notices?lang=en", headers=HTML)  # notices in the owner's language: Chinese
    assert 'data-testid="notice-solved_question"' in inbox.text and "现在：已上线（OTA 3.2）。" in inbox.text
    assert f'<a href="/community/suggestions/{existing}">' in inbox.text
    shipped = client.get(f"/community/suggestions/{existing}", headers=HTML)
    assert 'data-testid="solved-question"' in shipped.text
    client.post(
        f"/community/suggestions/{existing}/solved", data={"csrf_token": csrf, "answer": "yes"}, headers=HTML
    )
    after = client.get(f"/community/suggestions/{existing}", headers=HTML)
    assert 'data-testid="solved-question"' not in after.text and "1 yes, 0 no" in after.text
    roadmap = client.get("/community/roadmap?lang=zh-CN", headers=HTML)
    assert roadmap.status_code == 200 and "更新日志" in roadmap.text


def test_a_customer_cannot_use_the_staff_forms(client: TestClient) -> None:
    owner = customer_headers(client, "13800138000")
    sid = _post(client, owner, "Bigger cup holders")
    client.cookies.set("carloop_session", owner["Authorization"].removeprefix("Bearer "))
    csrf = csrf_of(client.get("/community", headers=HTML).text)
    refused = client.post(
        f"/community/suggestions/{sid}/status", data={"csrf_token": csrf, "status": "planned"}, headers=HTML
    )
    assert refused.status_code == 403


def test_the_board_script_endpoint_answers_anonymous_visitors_with_json(client: TestClient) -> None:
    owner = customer_headers(client, "13800138000")
    seats = _post(client, owner, "希望增加前排座椅通风功能")
    found = client.get("/community/similar", params={"q": "座椅通风"}).json()
    assert found[0]["id"] == seats and found[0]["likely_duplicate"] is True
    assert client.get("/community/similar", params={"q": ""}).status_code == 422
