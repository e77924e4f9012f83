"""The booking lane: ``POST /api/v1/appointments`` for a test drive or a service job by a signed-in
buyer, in the lane table of ``web.lanes`` beside reservations and notifications.

The session, the store and the slot's holds are read on a read connection on the event loop (a full
slot is refused at once, 9 of 10 attempts in a rush); a booking that may succeed goes to the process's
one group-commit writer, which stores everything queued meanwhile in one transaction
(``appointments.fast.write_batch``). The unique key on ``appointment_hold`` still decides every race.

Anything else — deliveries, staff or missing tokens, bodies that do not validate — is ``Pass``ed to
the FastAPI app with its body replayed, so every refusal there keeps its usual problem answer.
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy.orm import Session

from carloop.appointments import fast
from carloop.appointments.schemas import AppointmentCreate
from carloop.clock import utcnow
from carloop.db import make_read_engine
from carloop.errors import CapacityExhausted, DomainError
from carloop.web.lane_types import Answer, Pass, Request

PATH = "/api/v1/appointments"


class BookingLane:
    """Read an attempt (or pass the request on), book a batch of attempts, answer 201."""

    def __init__(self, app: FastAPI) -> None:
        # The one read per attempt runs on the event loop itself, on a read engine that never takes
        # SQLite's write lock and runs PostgreSQL in autocommit on one connection: a local round trip
        # is a fraction of a millisecond, and handing each read to a thread pool cost more (GIL
        # hand-offs) than it saved — p99 102-109 ms with 4 read threads, 53-62 ms inline, A/B in one
        # sitting (docs/BENCHMARKS.md, booking).
        self.reads = make_read_engine(app.state.settings)

    def close(self) -> None:
        """Let go of the read connections."""
        self.reads.dispose()

    def read(self, request: Request) -> fast.Attempt | DomainError | Pass:
        """An attempt that may succeed, a refusal (a full slot, an unknown store), or ``Pass``."""
        auth = request.headers.get(b"authorization", b"").decode("latin-1")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        body: AppointmentCreate | None = None
        if token:
            with contextlib.suppress(ValidationError):
                body = AppointmentCreate.model_validate_json(request.body)
        if body is None or body.kind not in fast.FAST_KINDS:
            return Pass()
        try:
            attempt = self._check(token, body)
        except DomainError as err:
            return err
        except (OverflowError, ValueError):  # a time at the ends of the calendar: the app's checks answer
            return Pass()
        return attempt if attempt is not None else Pass()  # not a live customer session: the app says

    def _check(self, token: str, body: AppointmentCreate) -> fast.Attempt | None:
        now = utcnow()
        times = fast.requested_steps(body)
        with self.reads.connect() as conn:  # one statement: the session, the store and its holds
            store, taken, customer_id = fast.load_slot(
                conn, body.store_code, body.model, times, token=token, now=now
            )
            if store is None:  # no such store: whether to say 401 or 404 depends on the session
                customer_id = fast.customer_of(conn, token, now)
            if customer_id is None:
                return None
        attempt = fast.plan(body, customer_id=customer_id, store=store, now=now)
        fast.refuse_if_full(attempt, taken)
        return attempt

    @staticmethod
    def store(
        session: Session, attempts: list[fast.Attempt], now: datetime
    ) -> list[tuple[fast.Attempt, int] | DomainError]:
        """Book the batch (``fast.write_batch``); an attempt that lost its race is a full slot."""
        ids = fast.write_batch(session.connection(), attempts, now)
        return [
            CapacityExhausted(fast.FULL) if found is None else (attempt, found)
            for attempt, found in zip(attempts, ids, strict=True)
        ]

    @staticmethod
    def answer(request: Request, booked: tuple[fast.Attempt, int]) -> Answer:
        """201 with the appointment as the FastAPI route answers it."""
        attempt, appointment_id = booked
        return Answer(201, fast.read(attempt, appointment_id).model_dump_json().encode())
