"""One row per scheduled job: its lease (who runs it now, until when) and its last outcome."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from carloop.db import Base


class ScheduledJob(Base):
    """A job's lease and history; a process runs the job only after taking the lease in one UPDATE."""

    __tablename__ = "scheduled_jobs"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    owner: Mapped[str] = mapped_column(String(120), default="")  # the process holding the lease
    lease_until: Mapped[datetime | None]  # the lease lapses then, even if its owner died mid-run
    next_run_at: Mapped[datetime | None]  # due at or after this moment (None: due now)
    last_started_at: Mapped[datetime | None]
    last_finished_at: Mapped[datetime | None]
    last_outcome: Mapped[str] = mapped_column(String(20), default="")  # JobOutcome, or "" if never run
    last_detail: Mapped[str] = mapped_column(String(500), default="")
    last_owner: Mapped[str] = mapped_column(String(120), default="")
    runs: Mapped[int] = mapped_column(Integer, default=0)
