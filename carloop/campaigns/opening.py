"""Opening notices: at the reveal, tell every registrant who asked (SMS, and in-app for those with an
account), segment by segment, at the SMS provider's rate, exactly once even across crashes.

How it holds together:

- a **wave** names a segment (models / cities / channels; empty = everyone) and a start (the reveal
  for the automatic wave). The ``campaign_openings`` job queues its registrants in chunks, one
  transaction each; the wave's cursor moves with the chunk, so a crash resumes at the next chunk;
- each registrant gets one ``OpeningNotice`` (unique per campaign and registration: never queued
  twice) and one outbox event whose ``available_at`` is the notice's slot. Slots give each second at
  most ``campaign_notice_per_second`` notices, so however many dispatchers run, the provider's rate
  holds;
- the dispatcher claims due events in batches (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several
  dispatchers never wait on each other; SQLite's one writer takes turns) of one provider request's
  worth (Tencent Cloud: 200 numbers; a gateway without batches: one). A chunk's notices are queued
  text by text (language and model), so a batch is mostly one request. The handler sends under the
  keys ``campaign:<id>:open:<registration>`` (``sms_message.key``: a key sent is never sent again)
  and marks the batch's notices sent or failed with one statement in the same transaction; a number
  the provider refuses for good fails alone, a provider outage leaves the notices queued;
- a crash before the provider took a batch leaves its notices and events pending and nothing
  recorded as sent: the resumed dispatcher sends them once. Between the provider's answer and the
  commit (milliseconds) no provider offers an idempotency key, so a crash exactly there tells that
  one batch again: batches stay one request small for this reason.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts.models import Customer
from carloop.audit import service as audit
from carloop.audit.service import Actor
from carloop.campaigns import registration_rules as rules
from carloop.campaigns.campaign_view import CampaignView, campaign_view
from carloop.campaigns.registration_models import CampaignRegistration, OpeningNotice, OpeningWave
from carloop.clock import utcnow
from carloop.errors import Conflict, PolicyViolation
from carloop.notices import service as notices
from carloop.outbox import service as outbox
from carloop.outbox.service import Handler, RetryLater
from carloop.settings import Settings
from carloop.sms import service as sms
from carloop.sms.gateways import BatchSmsGateway, SmsGateway
from carloop.sms.providers import build_gateway

log = logging.getLogger("carloop.campaigns")

SMS_PURPOSE = "orders_open"
NOTICE_KIND = "orders_open"
CHUNK = 5000
TOO_EARLY = "Orders for this campaign open at its reveal; a wave cannot start before it."
NAIVE_START = "Give the wave's start with its time zone (e.g. 2026-12-07T20:00:00+08:00)."
BAD_SEGMENT = "A segment lists at most 50 models, cities or channels."


@dataclass(frozen=True)
class OpeningDue:
    """One registrant's opening notice waits for its slot."""

    name: ClassVar[str] = "campaign.opening_due"
    notice_id: int


def _segment(wave: OpeningWave) -> rules.Segment:
    data = wave.segment or {}
    return rules.Segment(
        models=tuple(data.get("models", ())),
        cities=tuple(data.get("cities", ())),
        channels=tuple(data.get("channels", ())),
    )


def plan_wave(
    *,
    session: Session,
    settings: Settings,
    campaign_id: int,
    segment: rules.Segment,
    starts_at: datetime | None = None,
    principal: Actor | None = None,
    now: datetime | None = None,
) -> OpeningWave:
    """Plan a wave of opening notices for a segment, starting at ``starts_at`` (the reveal if not
    given, never before it); audited when staff plan it."""
    now = now or utcnow()
    campaign = campaign_view(session=session, campaign_id=campaign_id)
    if starts_at is not None and starts_at.tzinfo is None:
        raise PolicyViolation(NAIVE_START, field="starts_at")
    start = starts_at or max(now, campaign.reveal_at)
    if start < campaign.reveal_at:
        raise Conflict(TOO_EARLY, reveal_at=campaign.reveal_at.isoformat())
    if max(len(segment.models), len(segment.cities), len(segment.channels)) > 50:
        raise PolicyViolation(BAD_SEGMENT, field="segment")
    wave = OpeningWave(
        campaign_id=campaign_id,
        segment={k: list(v) for k, v in dataclasses.asdict(segment).items()},
        per_second=max(1, settings.campaign_notice_per_second),
        starts_at=start,
        created_at=now,
        created_by=principal.actor if principal is not None else "system",
    )
    if principal is not None:  # HQ's own plan replaces the automatic wave that has not started
        for automatic in session.scalars(
            select(OpeningWave).where(
                OpeningWave.campaign_id == campaign_id,
                OpeningWave.created_by == "system",
                OpeningWave.slot_start.is_(None),
            )
        ):
            session.delete(automatic)
    session.add(wave)
    session.flush()
    if principal is not None:
        audit.record(
            session=session,
            principal=principal,
            action="campaign.opening.plan",
            target_type="campaign",
            target_id=campaign_id,
            detail={"wave": wave.id, "segment": segment.describe(), "starts_at": start.isoformat()},
        )
    return wave


def queue_chunk(*, session: Session, wave: OpeningWave, now: datetime, limit: int = CHUNK) -> int:
    """Queue the next chunk of a started wave's registrants (one notice and one outbox event each,
    in this transaction); how many were queued. The wave is marked done when none are left."""
    rows = session.execute(
        select(
            CampaignRegistration.id,
            CampaignRegistration.model_code,
            CampaignRegistration.city,
            CampaignRegistration.channel,
            CampaignRegistration.locale,
        )
        .where(
            CampaignRegistration.campaign_id == wave.campaign_id,
            CampaignRegistration.notify.is_(True),
            CampaignRegistration.id > wave.cursor,
        )
        .order_by(CampaignRegistration.id)
        .limit(limit)
    ).all()
    if not rows:
        wave.queued_all_at = now
        session.flush()
        return 0
    segment = _segment(wave)
    wanted = [r.id for r in rows if segment.matches(model=r.model_code, city=r.city, channel=r.channel)]
    taken = set(
        session.scalars(
            select(OpeningNotice.registration_id).where(
                OpeningNotice.campaign_id == wave.campaign_id,
                OpeningNotice.registration_id >= rows[0].id,
                OpeningNotice.registration_id <= rows[-1].id,
            )
        )
    )
    fresh = [registration_id for registration_id in wanted if registration_id not in taken]
    text = {r.id: (r.locale, r.model_code) for r in rows}
    fresh.sort(key=lambda registration_id: text[registration_id])  # one text's notices side by side
    if wave.slot_start is None:  # the first chunk fixes where this wave's slots begin
        busy_until = session.scalar(
            select(func.max(OpeningNotice.due_at)).where(OpeningNotice.status == rules.NoticeStatus.QUEUED)
        )
        after_busy = busy_until + timedelta(seconds=1) if busy_until is not None else wave.starts_at
        wave.slot_start = max(wave.starts_at, now, after_busy)
    if fresh:
        _link_accounts(session, fresh)
        values = [
            {
                "campaign_id": wave.campaign_id,
                "registration_id": registration_id,
                "wave_id": wave.id,
                "due_at": rules.send_slot(wave.slot_start, wave.queued + i, wave.per_second),
                "status": rules.NoticeStatus.QUEUED.value,
                "queued_at": now,
            }
            for i, registration_id in enumerate(fresh)
        ]
        created = session.scalars(  # the ids back from the insert (reading them again by wave would
            # pass every notice the wave queued before: quadratic over a million registrants)
            insert(OpeningNotice).returning(OpeningNotice.id, sort_by_parameter_order=True),
            values,
        ).all()
        outbox.publish_many(
            session=session,
            events=[(OpeningDue(notice_id=n), v["due_at"]) for n, v in zip(created, values, strict=True)],
        )
    wave.cursor = rows[-1].id
    wave.queued += len(fresh)
    session.flush()
    return len(fresh)


def ensure_default_wave(*, session: Session, settings: Settings, campaign_id: int) -> None:
    """Give a campaign its automatic wave (everyone, at the reveal) unless it has a wave already."""
    if session.scalar(select(OpeningWave.id).where(OpeningWave.campaign_id == campaign_id).limit(1)) is None:
        plan_wave(session=session, settings=settings, campaign_id=campaign_id, segment=rules.Segment())


def _link_accounts(session: Session, registration_ids: list[int]) -> None:
    """Link registrations whose phone already has an account (one statement per chunk), so each
    notice knows its in-app recipient without a lookup of its own."""
    owner = select(Customer.id).where(Customer.phone == CampaignRegistration.phone).scalar_subquery()
    session.execute(
        update(CampaignRegistration)
        .where(
            CampaignRegistration.id.in_(registration_ids),
            CampaignRegistration.customer_id.is_(None),
            select(Customer.id).where(Customer.phone == CampaignRegistration.phone).exists(),
        )
        .values(customer_id=owner, converted_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def open_due(factory: sessionmaker[Session], now: datetime) -> int:
    """Queue every wave whose start has come, chunk by chunk (one transaction per chunk, so a crash
    resumes at the next chunk); how many notices were queued."""
    with factory() as reader:
        waves = list(
            reader.scalars(
                select(OpeningWave.id)
                .where(OpeningWave.queued_all_at.is_(None), OpeningWave.starts_at <= now)
                .order_by(OpeningWave.starts_at, OpeningWave.id)
            )
        )
    total = 0
    for wave_id in waves:
        while True:
            with factory.begin() as session:
                wave = session.get(OpeningWave, wave_id, with_for_update=True)
                if wave is None or wave.queued_all_at is not None:
                    break
                queued = queue_chunk(session=session, wave=wave, now=now)
                done = wave.queued_all_at is not None
            total += queued
            if done:
                break
    return total


def next_opening(session: Session) -> datetime | None:
    """When the next wave falls due (for the job's schedule)."""
    return session.scalar(select(func.min(OpeningWave.starts_at)).where(OpeningWave.queued_all_at.is_(None)))


class OpeningSender:
    """Sends registrants' opening notices (the ``campaign.opening_due`` handler), many at once: one
    provider request per text (model and language) for up to the gateway's batch of numbers."""

    def __init__(self, settings: Settings, gateway: SmsGateway | None = None) -> None:
        self.settings = settings
        self.gateway = gateway if gateway is not None else build_gateway(settings)
        self._campaigns: dict[int, CampaignView] = {}  # names only: they do not change after the reveal

    @property
    def batch_size(self) -> int:
        """Notices a transaction takes: one provider request's worth (one at a time without batches)."""
        if self.gateway is None:
            return 500
        return self.gateway.batch_size if isinstance(self.gateway, BatchSmsGateway) else 1

    def __call__(self, session: Session, payload: Mapping[str, Any]) -> None:
        """Send one notice if it is still queued (``RetryLater`` if it must wait)."""
        if self.handle_many(session, [(0, payload)]):
            raise RetryLater(f"opening notice {payload.get('notice_id')}: the SMS provider or a limit")

    def handle_many(self, session: Session, events: Sequence[tuple[int, Mapping[str, Any]]]) -> list[int]:
        """Send the events' notices that are still queued and mark them sent, failed or skipped (one
        statement); the events whose notice must wait (provider down, a limit reached)."""
        event_of = {int(payload["notice_id"]): event_id for event_id, payload in events}
        rows = session.execute(
            select(
                OpeningNotice.id,
                OpeningNotice.campaign_id,
                OpeningNotice.notice_id,
                OpeningNotice.attempts,
                CampaignRegistration.id.label("registration_id"),
                CampaignRegistration.phone,
                CampaignRegistration.model_code,
                CampaignRegistration.locale,
                CampaignRegistration.customer_id,
            )
            .join(CampaignRegistration, CampaignRegistration.id == OpeningNotice.registration_id)
            .where(OpeningNotice.id.in_(list(event_of)), OpeningNotice.status == rules.NoticeStatus.QUEUED)
            .order_by(OpeningNotice.id)
            .with_for_update(of=OpeningNotice)
        ).all()
        now = utcnow()
        in_app = {row.id: row.notice_id for row in rows}
        texts: dict[tuple[str, str], dict[str, int]] = {}  # (locale, model name) -> key -> notice id
        for row in rows:
            campaign = self._campaign(session, row.campaign_id)
            model_en, model_zh = campaign.model_names.get(row.model_code, (row.model_code,) * 2)
            if row.customer_id is not None and row.notice_id is None:  # linked at sign-in or queueing
                in_app[row.id] = self._in_app(session, campaign.id, row.customer_id, model_en, model_zh)
            model = model_en if row.locale == "en" else model_zh
            texts.setdefault((row.locale, model), {})[
                f"campaign:{campaign.id}:open:{row.registration_id}"
            ] = row.id
        done: list[dict[str, Any]] = []
        later: list[int] = []
        phones = {row.id: row.phone for row in rows}
        attempts = {row.id: row.attempts + 1 for row in rows}

        def mark(notice_id: int, status: str, sms_id: int | None = None, error: str = "") -> None:
            done.append(
                {
                    "id": notice_id,
                    "status": status,
                    "sms_message_id": sms_id,
                    "notice_id": in_app[notice_id],
                    "attempts": attempts[notice_id],
                    "last_error": error[:300],
                    "sent_at": now if status != rules.NoticeStatus.FAILED else None,
                }
            )

        for (locale, model), by_key in texts.items():
            if self.gateway is None:  # the demo without a provider: in-app only, the log says so
                for notice_id in by_key.values():
                    mark(
                        notice_id,
                        rules.NoticeStatus.SENT if in_app[notice_id] else rules.NoticeStatus.SKIPPED,
                    )
                continue
            result = sms.send_many(
                session=session,
                settings=self.settings,
                gateway=self.gateway,
                purpose=SMS_PURPOSE,
                params={"model": model},
                recipients={key: phones[notice_id] for key, notice_id in by_key.items()},
                locale=locale,
                now=now,
                template_limit=self.settings.campaign_notice_per_second * self.settings.sms_window_seconds,
            )
            for key, notice_id in by_key.items():
                if key in result.sent:
                    mark(notice_id, rules.NoticeStatus.SENT, sms_id=result.sent[key])
                elif key in result.failed:
                    mark(notice_id, rules.NoticeStatus.FAILED, error=result.failed[key])
                else:
                    later.append(event_of[notice_id])
        if done:
            session.execute(update(OpeningNotice), done)
        if later:
            log.warning("%s opening notices wait for the SMS provider or a limit", len(later))
        return later

    def _campaign(self, session: Session, campaign_id: int) -> CampaignView:
        campaign = self._campaigns.get(campaign_id)
        if campaign is None:
            campaign = self._campaigns[campaign_id] = campaign_view(session=session, campaign_id=campaign_id)
        return campaign

    def _in_app(
        self, session: Session, campaign_id: int, customer_id: int, model_en: str, model_zh: str
    ) -> int:
        """The registrant's in-app notice (once per account and campaign)."""
        notice = notices.notify(
            session=session,
            customer_id=customer_id,
            kind=NOTICE_KIND,
            key=f"campaign:{campaign_id}:open:{customer_id}",
            source="campaigns",
            subject=(f"{model_en}: orders are open", f"{model_zh}现已开放订购"),
            body=(
                f"You asked to be told: orders for the {model_en} are open now.",
                f"您预约的{model_zh}现已开放订购，立即下单即可锁定您的排位。",
            ),
        )
        return notice.id


def handlers(settings: Settings | None, gateway: SmsGateway | None = None) -> dict[str, list[Handler]]:
    """The opening notices' handler bound to the settings' SMS provider (without settings, they wait)."""
    if settings is None:
        return {OpeningDue.name: [_wait_for_providers]}
    return {OpeningDue.name: [OpeningSender(settings, gateway)]}


def _wait_for_providers(session: Session, payload: Mapping[str, Any]) -> None:
    """A dispatcher without provider settings leaves the notice for one that has them."""
    raise RetryLater(f"opening notice {payload.get('notice_id')}: this dispatcher has no provider settings")


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a campaign's opening notices stand."""

    registered: int
    asked: int
    queued: int
    sent: int
    failed: int
    skipped: int
    first_sent_at: datetime | None
    last_sent_at: datetime | None

    @property
    def per_second(self) -> float:
        """Notices sent per second between the first and the last."""
        if not self.first_sent_at or not self.last_sent_at or self.sent < 2:
            return 0.0
        span = (self.last_sent_at - self.first_sent_at).total_seconds()
        return self.sent / span if span > 0 else float(self.sent)


def progress(*, session: Session, campaign_id: int) -> Progress:
    """Counts of a campaign's registrants and opening notices by status."""
    registered = session.scalar(select(func.count()).where(CampaignRegistration.campaign_id == campaign_id))
    asked = session.scalar(
        select(func.count()).where(
            CampaignRegistration.campaign_id == campaign_id, CampaignRegistration.notify.is_(True)
        )
    )
    by_status = dict(
        session.execute(
            select(OpeningNotice.status, func.count())
            .where(OpeningNotice.campaign_id == campaign_id)
            .group_by(OpeningNotice.status)
        ).all()
    )
    first, last = session.execute(
        select(func.min(OpeningNotice.sent_at), func.max(OpeningNotice.sent_at)).where(
            OpeningNotice.campaign_id == campaign_id
        )
    ).one()
    return Progress(
        registered=int(registered or 0),
        asked=int(asked or 0),
        queued=int(by_status.get(rules.NoticeStatus.QUEUED, 0)),
        sent=int(by_status.get(rules.NoticeStatus.SENT, 0)),
        failed=int(by_status.get(rules.NoticeStatus.FAILED, 0)),
        skipped=int(by_status.get(rules.NoticeStatus.SKIPPED, 0)),
        first_sent_at=first,
        last_sent_at=last,
    )
