"""The embedded amqtt broker enforces carloop's Mosquitto files: logins from ``password_file``, topics
from ``acl_file`` (both written by ``credentials.py``), re-read whenever they change on disk.

Loaded by amqtt from its configuration (``carloop.ecosystem.amqtt_acl.CarloopAclPlugin``); only the
embedded broker imports this module.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from amqtt.contexts import Action, BaseContext  # type: ignore[import-untyped]
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin  # type: ignore[import-untyped]
from amqtt.session import Session  # type: ignore[import-untyped]

from carloop.ecosystem.credentials import (
    Account,
    may_publish,
    may_read,
    may_subscribe,
    parse_acl_file,
    parse_password_file,
    verify_secret,
)

log = logging.getLogger("carloop.ecosystem")


class _Files:
    """The two files and what was parsed from them, re-read when their modification time changes."""

    def __init__(self, password_file: str, acl_file: str) -> None:
        self.passwords, self.acl = Path(password_file), Path(acl_file)
        self._stamp: tuple[float, float] | None = None
        self.users: dict[str, str] = {}
        self.accounts: dict[str, Account] = {}

    def current(self) -> None:
        try:
            stamp = (self.passwords.stat().st_mtime, self.acl.stat().st_mtime)
        except OSError:
            self.users, self.accounts, self._stamp = {}, {}, None  # no files: nobody gets in
            return
        if stamp != self._stamp:
            self.users = parse_password_file(self.passwords.read_text())
            self.accounts = parse_acl_file(self.acl.read_text())
            self._stamp = stamp


class CarloopAclPlugin(BaseAuthPlugin, BaseTopicPlugin):
    """Refuses anonymous and wrong logins; allows each account only its own topics; checks wills."""

    @dataclass
    class Config:
        password_file: str = ""
        acl_file: str = ""

    def __init__(self, context: BaseContext) -> None:
        super().__init__(context)
        self.files = _Files(self.config.password_file, self.config.acl_file)

    async def authenticate(self, *, session: Session) -> bool | None:
        """A known user with the right secret, whose last will (if any) is a topic it may publish."""
        self.files.current()
        username, password = session.username, session.password
        hashed = self.files.users.get(username or "")
        if not username or password is None or hashed is None:
            return False
        secret = password.decode() if isinstance(password, bytes) else str(password)
        if not verify_secret(secret, hashed):
            log.warning("MQTT login refused for %s", username)
            return False
        will = session.will_topic if session.will_flag else None
        if will and not may_publish(self.files.accounts.get(username), will):
            log.warning("MQTT login refused for %s: last will on %s", username, will)
            return False
        return True

    async def topic_filtering(
        self, *, session: Session | None = None, topic: str | None = None, action: Action | None = None
    ) -> bool | None:
        """Publish, subscribe and receive as the account's ACL says."""
        self.files.current()
        if session is None or topic is None:
            return False
        account = self.files.accounts.get(session.username or "")
        if action == Action.PUBLISH:
            return may_publish(account, topic)
        if action == Action.SUBSCRIBE:
            return may_subscribe(account, topic)
        return may_read(account, topic)
