"""The real-name verifier Settings ask for (``CARLOOP_REALNAME_VERIFIER``)."""

from __future__ import annotations

from carloop.accounts.faceid import TencentFaceIdVerifier
from carloop.accounts.realname import RealNameVerifier, StandInVerifier
from carloop.settings import Settings


def build_verifier(settings: Settings) -> RealNameVerifier:
    """Tencent Cloud FaceID for ``tencent``; the checksum-only stand-in (never in production) otherwise."""
    if settings.realname_verifier == "tencent":
        return TencentFaceIdVerifier.from_settings(settings)
    return StandInVerifier(settings.realname_standin_refused)
