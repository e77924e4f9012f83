"""An owner's ecosystem choices: the language Home Assistant shows, and consent to record drives."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from carloop.audit import service as audit
from carloop.ecosystem.models import OwnerSettings
from carloop.errors import PolicyViolation

LANGUAGES = ("zh_CN", "en")
RETENTION_DAYS = (1, 7, 30, 90)  # the choices the owner is offered


def get_settings(*, session: Session, customer_id: int) -> OwnerSettings:
    """The owner's settings (defaults, not stored, until the owner changes one)."""
    found = session.get(OwnerSettings, customer_id)
    if found is not None:
        return found
    return OwnerSettings(
        customer_id=customer_id, ha_language="zh_CN", record_drives=False, drive_retention_days=30
    )


def all_settings(*, session: Session) -> dict[int, OwnerSettings]:
    """Every owner who changed a setting (the bridge reads languages from it)."""
    return {s.customer_id: s for s in session.scalars(select(OwnerSettings))}


def _stored(session: Session, customer_id: int) -> OwnerSettings:
    found = session.get(OwnerSettings, customer_id)
    if found is None:
        found = get_settings(session=session, customer_id=customer_id)
        session.add(found)
    return found


def set_ha_language(*, session: Session, customer_id: int, language: str) -> OwnerSettings:
    """Choose the language of the entity names Home Assistant shows for the owner's cars."""
    if language not in LANGUAGES:
        raise PolicyViolation("Choose Chinese or English.")
    settings = _stored(session, customer_id)
    settings.ha_language = language
    session.flush()
    return settings


def set_drive_recording(
    *, session: Session, customer_id: int, record: bool, retention_days: int
) -> OwnerSettings:
    """Give or withdraw consent to record the owner's drives, and for how long they are kept (audited)."""
    if retention_days not in RETENTION_DAYS:
        raise PolicyViolation("Choose how many days drives are kept: 1, 7, 30 or 90.")
    settings = _stored(session, customer_id)
    settings.record_drives, settings.drive_retention_days = record, retention_days
    audit.record(
        session=session,
        principal=None,
        action="drives.consent",
        target_type="customer",
        target_id=customer_id,
        detail={"record": record, "retention_days": retention_days},
    )
    session.flush()
    return settings
