"""The broker's password and ACL files are rebuilt when a login changes, not on every reload round."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts import service as accounts
from carloop.ecosystem import service
from carloop.ecosystem.broker import PASSWORD_FILE
from carloop.ecosystem.runtime import BrokerAuth, Runtime


def test_account_files_are_rebuilt_only_when_a_login_changes(
    session_factory: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with session_factory.begin() as session:
        owner = accounts.get_or_create_customer(session=session, phone="13800138071").id
        first = service.issue_home_assistant_credentials(session=session, customer_id=owner)
    auth = BrokerAuth(
        secrets.token_urlsafe(16), secrets.token_urlsafe(16), tmp_path / "auth", simulator=False
    )
    runtime = Runtime(session_factory, "mqtt://127.0.0.1:1", simulate=False, reload_interval=0, auth=auth)
    built: list[int] = []
    real = service.mqtt_accounts

    def counted(**kwargs):  # type: ignore[no-untyped-def]
        built.append(1)
        return real(**kwargs)

    monkeypatch.setattr(service, "mqtt_accounts", counted)
    with session_factory() as session:
        assert runtime.write_auth(session)  # the first round writes the files
        assert not runtime.write_auth(session)  # nothing changed: nothing rebuilt, nothing written
        assert not runtime.write_auth(session)
    assert len(built) == 1
    hashes = (tmp_path / "auth" / PASSWORD_FILE).read_text()
    assert first.username in hashes
    with session_factory.begin() as session:  # the owner issues a new login: the old one must stop
        service.issue_home_assistant_credentials(session=session, customer_id=owner)
    with session_factory() as session:
        assert runtime.write_auth(session)
    assert len(built) == 2
    assert (tmp_path / "auth" / PASSWORD_FILE).read_text() != hashes
