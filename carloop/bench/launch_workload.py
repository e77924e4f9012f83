"""The launch bench's world and workload: buyers with sessions, the edition's stock, the request mix."""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from typing import Any

INTAKE = "/api/v1/intake/orders"
EDITION = "su7-founders"


# --- database ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Buyer:
    """A seeded customer: bearer token and identity number."""

    token: str
    id_number: str


def seed_buyers(url: str, count: int, edition_units: int) -> list[Buyer]:
    """Create ``count`` customers with sessions, and the edition's stock of ``edition_units``."""
    from carloop.accounts import service as accounts
    from carloop.db import make_engine, make_session_factory
    from carloop.ordering.editions import id_number_with_check
    from carloop.ordering.models import EditionStock
    from carloop.settings import Settings

    settings = Settings(environment="development", database_url=url)
    engine = make_engine(settings)
    buyers = []
    with make_session_factory(engine).begin() as session:
        for i in range(count):
            customer = accounts.get_or_create_customer(session=session, phone=f"139{i:08d}")
            session.flush()
            token, _ = accounts.start_session(session=session, settings=settings, customer=customer)
            born = time.gmtime(-631152000 + i * 86400 % (40 * 365 * 86400))  # 1950 onwards
            first17 = f"110105{born.tm_year:04d}{born.tm_mon:02d}{born.tm_mday:02d}{i % 1000:03d}"
            buyers.append(Buyer(token, id_number_with_check(first17)))
        session.add(EditionStock(edition=EDITION, capacity=edition_units, taken=0))
    engine.dispose()
    return buyers


# --- workload ---------------------------------------------------------------------------------


def valid_configurations(
    rng: random.Random, count: int = 300
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Realistic valid configurations of every non-edition trim, and some invalid ones."""
    from carloop.catalog import service as catalog
    from carloop.catalog.schemas import ConfigurationIn
    from carloop.errors import DomainError

    cat = catalog.current_catalog()
    valid: list[dict[str, Any]] = []
    seen: set[str] = set()
    tries = 0
    while len(valid) < count and tries < count * 50:
        tries += 1
        model = rng.choice(list(cat.models.values()))
        trim = rng.choice([t for t in model.trims.values() if t.edition is None])
        options = []
        for group in model.groups.values():
            offered = [c for c in group.options if c in trim.available and c not in trim.included]
            if offered and rng.random() < 0.6:
                options.append(rng.choice(offered))
        config = {"model": model.code, "trim": trim.code, "options": options}
        key = json.dumps(config, sort_keys=True)
        if key in seen:
            continue
        try:
            catalog.quote(config=ConfigurationIn(**config))
        except DomainError:
            continue
        seen.add(key)
        valid.append(config)
    invalid = [
        {"model": "su7", "trim": "pro", "options": ["paint-aqua-blue", "paint-pearl-white"]},
        {"model": "su7", "trim": "standard", "options": ["no-such-option"]},
        {"model": "yu7", "trim": "warp-drive", "options": []},
    ]
    return valid, invalid


def build_jobs(*, orders: int, buyers: list[Buyer], seed: int, prefix: str) -> tuple[list[Any], int]:
    """The request mix: ~10% edition (10x its units), ~0.5% invalid, ~1% retries with the same key."""
    from carloop.bench.loadgen import Job, render

    rng = random.Random(seed)  # noqa: S311 - a reproducible workload, not a secret
    valid, invalid = valid_configurations(rng)
    jobs: list[Job] = []
    retries: list[tuple[int, Job]] = []
    edition_requests = 0
    for i in range(orders):
        buyer = rng.choice(buyers)
        key = f"{prefix}-{i}"
        body: dict[str, Any]
        if i % 200 == 199:  # 0.5%
            body, kind = {"configuration": rng.choice(invalid)}, "invalid"
        elif i % 10 == 3:  # 10%
            body = {
                "configuration": {"model": "su7", "trim": "founders"},
                "id_number": buyer.id_number,
                "real_name": "张三",
            }
            kind = "edition"
            edition_requests += 1
        else:
            body, kind = {"configuration": rng.choice(valid)}, "order"
        headers = {
            "Authorization": f"Bearer {buyer.token}",
            "Idempotency-Key": key,
            "Content-Type": "application/json",
        }
        job = Job(key, render("POST", INTAKE, headers=headers, body=json.dumps(body).encode()), kind)
        jobs.append(job)
        if rng.random() < 0.01:
            retries.append((i, Job(key, job.raw, "retry")))
    for i, job in retries:  # half race the original (right behind it), half come back later
        at = (
            min(len(jobs), i + 1 + rng.randrange(4))
            if rng.random() < 0.5
            else rng.randrange(i, len(jobs) + 1)
        )
        jobs.insert(at, job)
    return jobs, edition_requests
