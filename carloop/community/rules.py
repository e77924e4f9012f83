"""Pure board rules: which status moves are allowed, when "did this solve it?" reopens an idea, and
what the board's notices say in both languages."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class SuggestionStatus(StrEnum):
    """Where a suggestion stands on the co-creation board."""

    SUBMITTED = "submitted"  # posted by an owner; not yet looked at
    UNDER_REVIEW = "under_review"  # staff are assessing it
    PLANNED = "planned"  # accepted onto the roadmap (the author earns points)
    IN_DEVELOPMENT = "in_development"  # being built
    SHIPPED = "shipped"  # released; voters are asked whether it solved their problem
    DECLINED = "declined"  # not going to happen; the reason is shown


class Category(StrEnum):
    """What part of the car or service a suggestion is about."""

    DRIVING = "driving"  # driving assistance, chassis, handling
    CHARGING = "charging"  # charging, range, battery
    CABIN = "cabin"  # seats, climate, interior
    SOFTWARE = "software"  # infotainment, app, over-the-air updates
    SERVICE = "service"  # stores, delivery, after-sales
    OTHER = "other"  # anything else


S = SuggestionStatus

TRANSITIONS: dict[S, frozenset[S]] = {
    S.SUBMITTED: frozenset({S.UNDER_REVIEW, S.PLANNED, S.DECLINED}),
    S.UNDER_REVIEW: frozenset({S.PLANNED, S.DECLINED, S.SUBMITTED}),
    S.PLANNED: frozenset({S.IN_DEVELOPMENT, S.DECLINED, S.UNDER_REVIEW}),
    S.IN_DEVELOPMENT: frozenset({S.SHIPPED, S.PLANNED, S.DECLINED}),
    S.SHIPPED: frozenset(),
    S.DECLINED: frozenset({S.UNDER_REVIEW}),
}

ACCEPTED = frozenset(
    {S.PLANNED, S.IN_DEVELOPMENT, S.SHIPPED}
)  # the author's points are due on entering these
ROADMAP = (S.PLANNED, S.IN_DEVELOPMENT, S.SHIPPED)
OPEN = frozenset({S.SUBMITTED, S.UNDER_REVIEW})  # open for merging and votes shown as "new"

REOPEN_MIN_NO = 3  # at least this many "no" answers ...
REOPEN_NO_SHARE = 0.5  # ... and at least this share of all answers reopen a follow-up


def may_move(current: S, target: S) -> bool:
    """Whether a suggestion may move from ``current`` to ``target``."""
    return target in TRANSITIONS[current]


def needs_reason(target: S) -> bool:
    """Whether moving to ``target`` needs a written reason (declining does)."""
    return target is S.DECLINED


def should_reopen(yes: int, no: int) -> bool:
    """Whether enough voters said a shipped suggestion did not solve their problem."""
    total = yes + no
    return no >= REOPEN_MIN_NO and total > 0 and no / total >= REOPEN_NO_SHARE


LIKELY_DUPLICATE = 0.3  # a similar-search score from which the form warns "this may already exist"


def likely_duplicate(score: float) -> bool:
    """Whether a similar suggestion is close enough to warn the owner before posting."""
    return score >= LIKELY_DUPLICATE


class Board(StrEnum):
    """Where a forum post lives."""

    STORIES = "stories"  # owners' stories
    TIPS = "tips"  # tips and how-tos
    QA = "qa"  # questions; staff may mark one comment the official answer


POSTS_PER_HOUR = 5  # any owner
NEW_ACCOUNT_DAYS = 3  # an account younger than this ...
NEW_ACCOUNT_POSTS_PER_DAY = 1  # ... posts at most this often
COMMENTS_PER_HOUR = 30


def may_post(*, account_age_days: float, posts_last_hour: int, posts_last_day: int) -> bool:
    """Whether an owner may post now under the spam limits (new accounts are held tighter)."""
    if posts_last_hour >= POSTS_PER_HOUR:
        return False
    return not (account_age_days < NEW_ACCOUNT_DAYS and posts_last_day >= NEW_ACCOUNT_POSTS_PER_DAY)


class NoticeKind(StrEnum):
    """What a community notice tells an owner (none is worth a text message: in-app, and e-mail)."""

    STATUS_CHANGED = "status_changed"  # a followed suggestion moved on
    SOLVED_QUESTION = "solved_question"  # a voted suggestion shipped: did it solve the problem?
    MERGED = "merged"  # a followed suggestion was merged into another
    MENTIONED = "mentioned"  # someone @mentioned the owner in a forum post or comment


# A status as a notice names it, (English, Chinese): the words the board's pages show through Babel.
STATUS_WORDS: dict[S, tuple[str, str]] = {
    S.SUBMITTED: ("Submitted", "已提交"),
    S.UNDER_REVIEW: ("Under review", "评估中"),
    S.PLANNED: ("Planned", "已规划"),
    S.IN_DEVELOPMENT: ("In development", "开发中"),
    S.SHIPPED: ("Shipped", "已上线"),
    S.DECLINED: ("Declined", "未采纳"),
}


@dataclass(frozen=True, slots=True)
class NoticeText:
    """A community notice's words, each as (English, Chinese); the subject is the owner's title."""

    subject: tuple[str, str]
    body: tuple[str, str]


def status_notice(title: str, status: S, note: str = "") -> NoticeText:
    """A followed suggestion is now at ``status`` (with staff's note, as written)."""
    en, zh = STATUS_WORDS[status]
    note = note.strip()
    return NoticeText(
        (title, title),
        (
            f"Now {en.lower()}" + (f" ({note})" if note else "") + ".",
            f"现在：{zh}" + (f"（{note}）" if note else "") + "。",
        ),
    )


def solved_question_notice(title: str) -> NoticeText:
    """A voted suggestion shipped: did it solve the voter's problem?"""
    return NoticeText(
        (title, title), ("It shipped. Did it solve the problem for you?", "已上线——它解决您的问题了吗？")
    )


def merged_notice(title: str, kept_title: str) -> NoticeText:
    """A followed suggestion was merged into ``kept_title``; the follower's vote counts there."""
    return NoticeText(
        (title, title),
        (
            f"Merged into “{kept_title}”; your vote counts there.",
            f"已合并到“{kept_title}”，您的投票计入该建议。",
        ),
    )


def mention_notice(title: str, *, in_comment: bool) -> NoticeText:
    """Someone @mentioned the owner in the post ``title`` or in a comment on it."""
    if in_comment:
        return NoticeText((title, title), ("You were mentioned in a comment.", "有人在评论中提到了您。"))
    return NoticeText((title, title), ("You were mentioned in this post.", "有人在这篇帖子中提到了您。"))
