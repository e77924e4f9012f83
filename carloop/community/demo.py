"""Demo board: ``seed_demo(session=..., author_ids=[...])`` posts a few suggestions, in Chinese."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from carloop.community import service
from carloop.community.models import Suggestion
from carloop.community.rules import Category, SuggestionStatus

# (title, body, category, status it is moved to)
DEMO_SUGGESTIONS = (  # written as owners in China write them: in Chinese
    ("希望增加前排座椅通风功能", "夏天坐久了后背全是汗。", Category.CABIN, SuggestionStatus.PLANNED),
    ("导航语音提示音量太小", "开着车窗时很难听清。", Category.SOFTWARE, None),
    (
        "OTA升级前请提前通知车主更新内容",
        "上次升级后很多设置变了，没人提前告诉我们。",
        Category.SOFTWARE,
        SuggestionStatus.SHIPPED,
    ),
    ("希望支持预约充电，用夜间低谷电价", "", Category.CHARGING, SuggestionStatus.IN_DEVELOPMENT),
    ("交付中心提车等待时间太长", "", Category.SERVICE, SuggestionStatus.UNDER_REVIEW),
    ("小雨时自动雨刷反应太慢", "", Category.DRIVING, None),
)


def seed_demo(*, session: Session, author_ids: Sequence[int]) -> list[Suggestion]:
    """Post the demo suggestions once, with votes from every author and some moved along the roadmap."""
    if not author_ids or session.scalar(select(Suggestion.id).limit(1)) is not None:
        return []
    posted = []
    for i, (title, body, category, status) in enumerate(DEMO_SUGGESTIONS):
        suggestion = service.create_suggestion(
            session=session,
            author_id=author_ids[i % len(author_ids)],
            title=title,
            body=body,
            category=category,
        )
        for voter in author_ids:
            service.vote(session=session, suggestion=suggestion, customer_id=voter)
        path = [SuggestionStatus.UNDER_REVIEW, SuggestionStatus.PLANNED, SuggestionStatus.IN_DEVELOPMENT]
        path += [SuggestionStatus.SHIPPED]
        if status is not None:
            for step in path[: path.index(status) + 1]:
                service.move(session=session, principal=None, suggestion=suggestion, target=step, note="demo")
        posted.append(suggestion)
    return posted
