"""The launch bench's payment provider: keys the bench makes, and the notifications it signs as the
provider would (untimed, before the notification surge: an RSA-2048 signature costs ~0.74 ms here).

``simulator`` signs with HMAC-SHA256 under a secret the bench gives the server; ``alipay`` makes an
RSA key pair for carloop's app and one for "Alipay", gives the server Alipay's public key, and signs
each notification with Alipay's private key exactly as Alipay does (RSA2: PKCS#1 v1.5 + SHA-256 over
the sorted ``k=v`` pairs), so the server verifies them with the real algorithm. With ``alipay`` the
bench also starts a stand-in for Alipay's gateway beside the server (``alipay_gateway``), which the
server's reconciliation job calls.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

PROVIDERS = ("simulator", "alipay")
ALIPAY_APP_ID = "2021000000000777"


@dataclass(frozen=True, slots=True)
class ProviderKit:
    """What the server needs to trust the provider (its env), and what the bench signs with."""

    name: str
    env: dict[str, str] = field(default_factory=dict)
    signing_key: str = ""  # the simulator's secret, or Alipay's private key (PEM)


def _pem_private(key: Any) -> str:
    from cryptography.hazmat.primitives import serialization

    return str(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
    )


def make_kit(name: str) -> ProviderKit:
    """Fresh keys for ``name`` (``simulator`` or ``alipay``) and the server's settings for them."""
    if name == "simulator":
        secret = secrets.token_hex(16)
        return ProviderKit(
            name, {"CARLOOP_PAYMENT_PROVIDER": "simulator", "CARLOOP_SIMULATOR_SECRET": secret}, secret
        )
    if name != "alipay":
        raise ValueError(f"--provider is one of {', '.join(PROVIDERS)}")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    app_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    alipay_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = alipay_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    env = {
        "CARLOOP_PAYMENT_PROVIDER": "alipay",
        "CARLOOP_ALIPAY_APP_ID": ALIPAY_APP_ID,
        "CARLOOP_ALIPAY_APP_PRIVATE_KEY": _pem_private(app_key),
        "CARLOOP_ALIPAY_PUBLIC_KEY": public.decode(),
    }
    return ProviderKit(name, env, _pem_private(alipay_key))


@contextmanager
def provider_side(kit: ProviderKit) -> Iterator[tuple[ProviderKit, dict[str, int]]]:
    """The provider's servers for the run: for ``alipay``, the gateway stand-in, the kit's env pointing
    the server at it, and its call counts (filled as the server calls); nothing for the simulator."""
    if kit.name != "alipay":
        yield kit, {}
        return
    from carloop.bench.alipay_gateway import running

    with running(kit.signing_key) as gateway:
        env = {**kit.env, "CARLOOP_ALIPAY_GATEWAY": f"{gateway.url}/gateway.do"}
        yield replace(kit, env=env), gateway.calls


def _signed_bodies(kit: ProviderKit, trades: Sequence[tuple[str, int]], seq0: int) -> list[bytes]:
    """Form bodies of TRADE_SUCCESS notifications for (trade_no, amount_fen), signed as the provider."""
    import base64

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    from carloop.payments.providers.alipay import amount_text, canonical_string
    from carloop.payments.providers.simulator import APP_ID, SIGN_TYPE, SimulatorProvider

    simulator = SimulatorProvider(secret=kit.signing_key) if kit.name == "simulator" else None
    key = None if simulator else serialization.load_pem_private_key(kit.signing_key.encode(), password=None)
    assert key is None or isinstance(key, rsa.RSAPrivateKey)  # loaded once per chunk, not per signature

    def rsa2(form: dict[str, str]) -> str:
        assert isinstance(key, rsa.RSAPrivateKey)
        signed = key.sign(canonical_string(form).encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signed).decode("ascii")

    bodies = []
    for i, (trade_no, amount_fen) in enumerate(trades):
        form = {
            "app_id": APP_ID if simulator else ALIPAY_APP_ID,
            "out_trade_no": trade_no,
            "trade_no": f"2026120722{seq0 + i:018d}",
            "total_amount": amount_text(amount_fen),
            "trade_status": "TRADE_SUCCESS",
            "notify_time": "2026-12-07 10:00:00",
            "notify_id": f"bench{seq0 + i}",
            "sign_type": SIGN_TYPE if simulator else "RSA2",
        }
        form["sign"] = simulator.sign(form) if simulator else rsa2(form)
        bodies.append(urlencode(form).encode())
    return bodies


def notification_jobs(
    kit: ProviderKit, trades: Sequence[tuple[str, int]], *, processes: int = 2
) -> list[Any]:
    """One signed notification per answered reservation, as load-generator jobs (signed in parallel)."""
    from carloop.bench.loadgen import Job, render

    chunk = max(1, len(trades) // (processes * 4) + 1)
    parts = [trades[i : i + chunk] for i in range(0, len(trades), chunk)]
    with ProcessPoolExecutor(max_workers=processes) as pool:
        signed = list(pool.map(_signed_bodies, [kit] * len(parts), parts, range(0, len(trades), chunk)))
    path = f"/api/v1/payments/notify/{kit.name}"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    jobs = []
    for part, bodies in zip(parts, signed, strict=True):
        for (trade_no, _), body in zip(part, bodies, strict=True):
            jobs.append(Job(trade_no, render("POST", path, headers=headers, body=body), "notify"))
    return jobs
