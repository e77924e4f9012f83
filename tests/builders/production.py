"""Builders for production: HQ's first plan (without a saved plan there is no delivery estimate)."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from carloop.production import rules, service


def publish_sample_plan(factory: sessionmaker[Session]) -> int:
    """Save the sample plan as HQ would, unless a plan is in force; returns the version in force."""
    with factory.begin() as session:
        found = service.plan_in_force(session=session)
        if found is not None:
            return found[0]
        plan = rules.sample_plan(service.today())
        return service.save_plan(session=session, plan=plan, reason="first plan", actor="test").plan_version
