"""Forum, owner-event and referral pages, with plain forms: post, @mention, comment, like, report,
moderate, ban; sign up, waitlist, give up, check in; referral codes."""

from __future__ import annotations

from datetime import timedelta

from builders.accounts import csrf_of, customer_headers, staff_headers
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts.models import Customer
from carloop.accounts.schemas import Role
from carloop.clock import SHANGHAI, utcnow
from carloop.loyalty.rules import EARN_RULES, EarnReason

HTML = {"Accept": "text/html"}


def _as(client: TestClient, headers: dict[str, str]) -> str:
    """Browse as this signed-in person; returns a fresh anti-forgery token."""
    client.cookies.set("carloop_session", headers["Authorization"].removeprefix("Bearer "))
    return csrf_of(client.get("/events", headers=HTML).text)


def _owners(client: TestClient, factory: sessionmaker[Session]) -> tuple[dict[str, str], dict[str, str]]:
    alice, bob = customer_headers(client, "13800138000"), customer_headers(client, "13800138001")
    with factory.begin() as session:  # old enough accounts, with names to mention
        session.execute(update(Customer).values(created_at=utcnow() - timedelta(days=30)))
        session.execute(update(Customer).where(Customer.phone.like("%000")).values(display_name="Alice"))
        session.execute(update(Customer).where(Customer.phone.like("%001")).values(display_name="Bob"))
    return alice, bob


def test_owners_post_mention_comment_like_and_report_and_staff_moderate(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    alice, bob = _owners(client, session_factory)
    ops = staff_headers(client, session_factory, "ops", Role.HQ_OPS)
    csrf = _as(client, alice)
    board = client.get("/community/forum/tips?lang=en", headers=HTML)
    assert board.status_code == 200 and 'data-testid="new-post"' in board.text
    posted = client.post(
        "/community/forum/tips/posts",
        data={
            "csrf_token": csrf,
            "title": "Winter range tips",
            "body": "Precondition first, @Bob knows more",
        },
        follow_redirects=False,
    )
    assert posted.status_code == 303
    post_url = posted.headers["location"]
    post_id = int(post_url.rsplit("/", 1)[1])

    csrf = _as(client, bob)
    inbox = client.get("/community/notices?lang=en", headers=HTML)  # the one inbox, /me/notices
    assert 'data-testid="notice-mentioned"' in inbox.text and "Winter range tips" in inbox.text
    assert f'<a href="/community/forum/posts/{post_id}">' in inbox.text
    notices = client.get("/api/v1/notices", headers=bob).json()
    assert [(n["kind"], n["link"]) for n in notices] == [("mentioned", f"/community/forum/posts/{post_id}")]
    assert notices[0]["body"] == "有人在这篇帖子中提到了您。"
    client.post(f"{post_url}/comments", data={"csrf_token": csrf, "body": "Thanks @Alice!"})
    client.post(f"{post_url}/like", data={"csrf_token": csrf})
    client.post(f"{post_url}/like", data={"csrf_token": csrf})  # once only
    page = client.get(f"{post_url}?lang=en", headers=HTML)
    assert "1 likes" in page.text and "Thanks @Alice!" in page.text
    reported = client.post(
        "/community/forum/reports",
        data={
            "csrf_token": csrf,
            "target_type": "post",
            "target_id": post_id,
            "post_id": post_id,
            "reason": "spam",
        },
        follow_redirects=False,
    )
    assert reported.status_code == 303
    assert [n["kind"] for n in client.get("/api/v1/notices", headers=alice).json()] == ["mentioned"]

    assert client.get("/staff/forum/moderation", headers=HTML).status_code == 403  # an owner is no moderator
    csrf = _as(client, ops)
    queue = client.get("/staff/forum/moderation?lang=zh-CN", headers=HTML)
    assert "审核队列" in queue.text and "Winter range tips" in queue.text
    report_id = queue.text.split('data-testid="report-')[1].split('"')[0]
    client.post(f"/staff/forum/moderation/{report_id}", data={"csrf_token": csrf, "decision": "hide"})
    assert 'data-testid="queue-empty"' in client.get("/staff/forum/moderation", headers=HTML).text
    assert client.get(post_url, headers=HTML).status_code == 404
    alice_id = client.get("/api/v1/me", headers=alice).json()["customer_id"]
    client.post(
        "/staff/forum/bans", data={"csrf_token": csrf, "customer_id": alice_id, "days": 3, "reason": "spam"}
    )

    csrf = _as(client, alice)
    again = client.post(
        "/community/forum/tips/posts",
        data={"csrf_token": csrf, "title": "More spam here"},
        follow_redirects=False,
    )
    assert again.status_code == 403


def test_staff_answer_a_question_officially_and_mark_a_post_helpful(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    alice, _ = _owners(client, session_factory)
    ops = staff_headers(client, session_factory, "ops", Role.HQ_OPS)
    csrf = _as(client, alice)
    post_url = client.post(
        "/community/forum/qa/posts",
        data={"csrf_token": csrf, "title": "How do I pair a second key?"},
        follow_redirects=False,
    ).headers["location"]
    csrf = _as(client, ops)
    client.post(f"{post_url}/answer", data={"csrf_token": csrf, "body": "Settings > Keys > Add"})
    page = client.get(f"{post_url}?lang=en", headers=HTML)
    comment_id = page.text.split('name="comment_id" value="')[1].split('"')[0]
    client.post(f"{post_url}/official", data={"csrf_token": csrf, "comment_id": comment_id})
    client.post(f"{post_url}/helpful", data={"csrf_token": csrf})
    page = client.get(f"{post_url}?lang=en", headers=HTML)
    assert 'data-testid="official-answer"' in page.text and 'data-testid="mark-helpful"' not in page.text
    points = client.get("/api/v1/points/me", headers=alice).json()
    assert points["balance"] == EARN_RULES[EarnReason.HELPFUL_POST].points


def test_owner_events_sign_up_waitlist_give_up_and_check_in_on_pages(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    alice, bob = _owners(client, session_factory)
    ops = staff_headers(client, session_factory, "ops", Role.HQ_OPS)
    csrf = _as(client, ops)
    start = (utcnow() + timedelta(days=10)).astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")
    announced = client.post(
        "/staff/events",
        data={
            "csrf_token": csrf,
            "kind": "track_day",
            "title_zh": "赛道日",
            "title_en": "Track day",
            "city": "上海",
            "starts_at": start,
            "capacity": 1,
        },
        follow_redirects=False,
    )
    assert announced.status_code == 303
    event_id = int(announced.headers["location"].rsplit("/", 1)[1])
    no_such_day = client.post(
        "/staff/events",
        data={
            "csrf_token": csrf,
            "kind": "meetup",
            "title_zh": "聚会",
            "title_en": "Meetup",
            "starts_at": "2026-13-45T25:61",
            "capacity": 5,
        },
    )
    assert no_such_day.status_code == 422

    csrf = _as(client, alice)
    client.post(f"/events/{event_id}/signup", data={"csrf_token": csrf})
    assert "You have a place" in client.get("/events?lang=en", headers=HTML).text
    csrf = _as(client, bob)
    page = client.get("/events?lang=en", headers=HTML)
    assert "Join the waitlist" in page.text
    client.post(f"/events/{event_id}/signup", data={"csrf_token": csrf})
    assert "You are on the waitlist" in client.get("/events?lang=en", headers=HTML).text
    csrf = _as(client, alice)
    client.post(f"/events/{event_id}/cancel", data={"csrf_token": csrf})
    csrf = _as(client, bob)
    assert "You have a place" in client.get("/events?lang=en", headers=HTML).text

    bob_id = client.get("/api/v1/me", headers=bob).json()["customer_id"]
    assert client.get(f"/staff/events/{event_id}", headers=HTML).status_code == 403
    csrf = _as(client, ops)
    staff_page = client.get(f"/staff/events/{event_id}?lang=zh-CN", headers=HTML)
    assert f'data-testid="checkin-{bob_id}"' in staff_page.text
    client.post(f"/staff/events/{event_id}/checkins", data={"csrf_token": csrf, "customer_id": bob_id})
    assert (
        client.get("/api/v1/points/me", headers=bob).json()["balance"]
        == EARN_RULES[EarnReason.EVENT_CHECKIN].points
    )


def test_referral_codes_record_one_referrer_and_never_oneself(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    alice, bob = _owners(client, session_factory)
    code = client.get("/api/v1/referrals/me", headers=alice).json()["code"]
    assert client.get("/api/v1/referrals/me", headers=alice).json()["code"] == code  # stable
    assert client.post("/api/v1/referrals/claim", json={"code": code}, headers=alice).status_code == 422
    assert client.post("/api/v1/referrals/claim", json={"code": "NOSUCH99"}, headers=bob).status_code == 404
    assert client.post("/api/v1/referrals/claim", json={"code": code}, headers=bob).json() == {
        "recorded": True
    }
    assert client.get("/api/v1/referrals/me", headers=alice).json()["referred"] == 1
    carol = customer_headers(client, "13800138002")
    bob_code = client.get("/api/v1/referrals/me", headers=bob).json()["code"]
    client.post("/api/v1/referrals/claim", json={"code": bob_code}, headers=carol)
    # A second referrer for bob is refused, on the page too.
    csrf = _as(client, bob)
    carol_code = client.get("/api/v1/referrals/me", headers=carol).json()["code"]
    refused = client.post("/me/referral", data={"csrf_token": csrf, "code": carol_code})
    assert refused.status_code == 409 and 'data-testid="referral-error"' in refused.text
    page = client.get("/me/referral?lang=en", headers=HTML)
    assert code not in page.text and 'data-testid="referred-by"' in page.text
