"""The payment simulator signs Alipay-shaped notifications with HMAC-SHA256 and checks them."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carloop.errors import ErrorCode, PaymentFailed
from carloop.payments.providers.base import NotificationStatus
from carloop.payments.providers.simulator import SimulatorProvider
from carloop.settings import Settings

NOON_UTC = datetime(2025, 3, 1, 4, 0, 0, tzinfo=UTC)
SIMULATOR = SimulatorProvider(secret="test-secret", clock=lambda: NOON_UTC)


def signed(
    *,
    trade_no: str = "PAY-1",
    amount_fen: int = 500000,
    status: NotificationStatus = NotificationStatus.SUCCEEDED,
    provider_txn_id: str | None = None,
) -> dict[str, str]:
    return SIMULATOR.signed_notification(
        trade_no=trade_no, amount_fen=amount_fen, status=status, provider_txn_id=provider_txn_id
    )


def test_signed_notification_round_trips_to_a_succeeded_payment() -> None:
    form = signed()
    note = SIMULATOR.verify_notification(form)
    assert note.provider == "simulator"
    assert note.trade_no == "PAY-1"
    assert note.amount_fen == 500000
    assert note.status is NotificationStatus.SUCCEEDED
    assert note.provider_txn_id.startswith("SIM")
    assert note.raw == form


def test_notification_looks_like_alipays() -> None:
    form = signed()
    assert form["total_amount"] == "5000.00"
    assert form["trade_status"] == "TRADE_SUCCESS"
    assert form["app_id"] == "carloop-simulator"
    assert form["sign_type"] == "HMAC-SHA256"
    assert form["notify_time"] == "2025-03-01 12:00:00"  # Beijing time, as Alipay sends it
    assert len(form["sign"]) == 64
    assert form["notify_id"] != signed()["notify_id"]


def test_signature_is_hmac_sha256_over_alipays_canonical_string() -> None:
    form = signed()
    text = "&".join(f"{k}={form[k]}" for k in sorted(form) if k not in ("sign", "sign_type"))
    assert form["sign"] == hmac.new(b"test-secret", text.encode(), hashlib.sha256).hexdigest()


def test_provider_txn_id_is_deterministic_or_given() -> None:
    assert signed()["trade_no"] == signed()["trade_no"]
    assert signed()["trade_no"] != signed(trade_no="PAY-2")["trade_no"]
    assert SIMULATOR.verify_notification(signed(provider_txn_id="T-9")).provider_txn_id == "T-9"


def test_failure_path_produces_a_closed_notification() -> None:
    form = signed(status=NotificationStatus.CLOSED)
    assert form["trade_status"] == "TRADE_CLOSED"
    assert SIMULATOR.verify_notification(form).status is NotificationStatus.CLOSED


def test_tampered_amount_fails_verification() -> None:
    form = signed() | {"total_amount": "1.00"}
    with pytest.raises(PaymentFailed) as caught:
        SIMULATOR.verify_notification(form)
    assert caught.value.code is ErrorCode.SIGNATURE_INVALID


def test_notification_signed_with_another_secret_is_refused() -> None:
    forged = SimulatorProvider(secret="guessed").signed_notification(
        trade_no="PAY-1", amount_fen=1, status=NotificationStatus.SUCCEEDED
    )
    with pytest.raises(PaymentFailed) as caught:
        SIMULATOR.verify_notification(forged)
    assert caught.value.code is ErrorCode.SIGNATURE_INVALID


@pytest.mark.parametrize(
    "change",
    [
        {"sign": ""},
        {"sign": "签名"},
        {"sign_type": "RSA2"},
    ],
)
def test_missing_or_foreign_signature_is_refused(change: dict[str, str]) -> None:
    with pytest.raises(PaymentFailed) as caught:
        SIMULATOR.verify_notification(signed() | change)
    assert caught.value.code is ErrorCode.SIGNATURE_INVALID


def test_unsigned_form_is_refused() -> None:
    form = signed()
    del form["sign"]
    with pytest.raises(PaymentFailed) as caught:
        SIMULATOR.verify_notification(form)
    assert caught.value.code is ErrorCode.SIGNATURE_INVALID


def test_validly_signed_form_for_another_app_is_refused() -> None:
    form = signed() | {"app_id": "someone-else"}
    form["sign"] = SIMULATOR.sign(form)
    with pytest.raises(PaymentFailed) as caught:
        SIMULATOR.verify_notification(form)
    assert caught.value.code is ErrorCode.SIGNATURE_INVALID


def test_signed_but_non_final_status_is_not_an_outcome() -> None:
    form = signed() | {"trade_status": "WAIT_BUYER_PAY"}
    form["sign"] = SIMULATOR.sign(form)
    with pytest.raises(PaymentFailed) as caught:
        SIMULATOR.verify_notification(form)
    assert caught.value.code is ErrorCode.PAYMENT_FAILED
    assert caught.value.data["final"] is False


@given(data=st.data())
def test_any_single_field_change_fails_verification(data: st.DataObject) -> None:
    form = signed()
    field = data.draw(st.sampled_from(sorted(form)), label="field")
    value = data.draw(st.text(max_size=30).filter(lambda v: v != form[field]), label="value")
    with pytest.raises(PaymentFailed) as caught:
        SIMULATOR.verify_notification(form | {field: value})
    assert caught.value.code is ErrorCode.SIGNATURE_INVALID


@given(name=st.text(min_size=1, max_size=12).filter(lambda k: k not in signed()), value=st.text(max_size=12))
def test_an_added_field_fails_verification(name: str, value: str) -> None:
    with pytest.raises(PaymentFailed) as caught:
        SIMULATOR.verify_notification(signed() | {name: value})
    assert caught.value.code is ErrorCode.SIGNATURE_INVALID


@given(
    field=st.sampled_from(["app_id", "out_trade_no", "trade_no", "total_amount", "trade_status", "notify_id"])
)
def test_a_removed_field_fails_verification(field: str) -> None:
    form = signed()
    del form[field]
    with pytest.raises(PaymentFailed) as caught:
        SIMULATOR.verify_notification(form)
    assert caught.value.code is ErrorCode.SIGNATURE_INVALID


@given(amount_fen=st.integers(min_value=1, max_value=10**12))
def test_any_positive_amount_round_trips_exactly(amount_fen: int) -> None:
    assert SIMULATOR.verify_notification(signed(amount_fen=amount_fen)).amount_fen == amount_fen


def test_start_payment_points_at_the_simulated_cashier() -> None:
    start = SIMULATOR.start_payment(
        trade_no="PAY-1", amount_fen=500000, subject="定金", return_url="/r", notify_url="/n"
    )
    assert start.pay_url == "/pay/simulator/PAY-1"


def test_refund_is_accepted_and_deterministic_for_a_refund_no() -> None:
    first = SIMULATOR.refund(trade_no="PAY-1", refund_no="R-1", amount_fen=100, reason="")
    again = SIMULATOR.refund(trade_no="PAY-1", refund_no="R-1", amount_fen=100, reason="")
    other = SIMULATOR.refund(trade_no="PAY-1", refund_no="R-2", amount_fen=100, reason="")
    assert first.accepted
    assert first == again
    assert (first.refund_no, first.amount_fen) == ("R-1", 100)
    assert first.provider_ref != other.provider_ref


@pytest.mark.parametrize("amount_fen", [0, -1])
def test_non_positive_amounts_are_refused(amount_fen: int) -> None:
    with pytest.raises(PaymentFailed):
        SIMULATOR.start_payment(
            trade_no="P", amount_fen=amount_fen, subject="s", return_url="", notify_url=""
        )
    with pytest.raises(PaymentFailed):
        signed(amount_fen=amount_fen)


def test_from_settings_signs_with_the_simulator_secret() -> None:
    provider = SimulatorProvider.from_settings(Settings(environment="test", simulator_secret="s3cret"))
    form = provider.signed_notification(trade_no="P", amount_fen=1, status=NotificationStatus.SUCCEEDED)
    assert provider.verify_notification(form).amount_fen == 1
    with pytest.raises(PaymentFailed):
        SIMULATOR.verify_notification(form)
