"""The benches' stand-in for Alipay's gateway answers the reconciliation job's calls over real HTTP,
signed so that carloop's Alipay adapter (pointed at it by CARLOOP_ALIPAY_GATEWAY) accepts them."""

from __future__ import annotations

from datetime import date

import pytest

from carloop.bench.alipay_gateway import running
from carloop.bench.launch_payments import make_kit, provider_side
from carloop.errors import PaymentFailed
from carloop.payments.providers.alipay import AlipayProvider
from carloop.settings import Settings


def _provider(env: dict[str, str]) -> AlipayProvider:
    return AlipayProvider.from_settings(
        Settings(
            environment="test",
            alipay_app_id=env["CARLOOP_ALIPAY_APP_ID"],
            alipay_app_private_key=env["CARLOOP_ALIPAY_APP_PRIVATE_KEY"],
            alipay_public_key=env["CARLOOP_ALIPAY_PUBLIC_KEY"],
            alipay_gateway=env["CARLOOP_ALIPAY_GATEWAY"],
        )
    )


def test_the_reconciliation_calls_get_signed_answers_from_the_stand_in() -> None:
    with provider_side(make_kit("alipay")) as (kit, calls):
        provider = _provider(kit.env)
        assert provider.statement(date(2026, 12, 6)) == []  # an empty bill, downloaded and read
        assert provider.query("L-000001") is None  # a trade it was not paid for
    assert calls == {
        "alipay.data.dataservice.bill.downloadurl.query": 1,
        "bill download": 1,
        "alipay.trade.query": 1,
    }


def test_an_answer_signed_with_another_key_is_refused() -> None:
    kit, other = make_kit("alipay"), make_kit("alipay")
    with running(other.signing_key) as impostor:
        provider = _provider({**kit.env, "CARLOOP_ALIPAY_GATEWAY": f"{impostor.url}/gateway.do"})
        with pytest.raises(PaymentFailed, match="signature"):
            provider.statement(date(2026, 12, 6))


def test_the_simulator_needs_no_stand_in() -> None:
    kit = make_kit("simulator")
    with provider_side(kit) as (same, calls):
        assert same is kit and calls == {}
