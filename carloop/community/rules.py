"""Pure board rules: which status moves are allowed, and when "did this solve it?" reopens an idea."""

from __future__ import annotations

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
