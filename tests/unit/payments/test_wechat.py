"""The WeChat Pay adapter's pure parts and its settings: callback checks, trade bills, configuration."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr
from stand_ins.wechat import APPID, BILL_HEADER, MCHID, WeChatPayStandIn

from carloop.errors import ErrorCode, PaymentFailed
from carloop.payments.providers.base import NotificationStatus
from carloop.payments.providers.wechat import WeChatPayProvider
from carloop.payments.providers.wechat_rules import (
    callback_fields,
    is_fresh,
    parse_trade_bill,
    translate_transaction,
)
from carloop.settings import WECHAT_FIELDS, Settings

STANDIN = WeChatPayStandIn(url="http://127.0.0.1:9", public="https://shop.example")


def _provider(clock: float | None = None) -> WeChatPayProvider:
    fields = STANDIN.settings()
    return WeChatPayProvider(
        mchid=fields["wechat_mchid"],
        appid=fields["wechat_appid"],
        cert_serial_no=fields["wechat_cert_serial_no"],
        private_key=fields["wechat_private_key"].get_secret_value(),
        apiv3_key=fields["wechat_apiv3_key"].get_secret_value(),
        public_key=fields["wechat_public_key"],
        public_key_id=fields["wechat_public_key_id"],
        refund_notify_url="https://shop.example/api/v1/payments/refunds/notify/wechat",
        gateway=STANDIN.url,
        clock=lambda: datetime.fromtimestamp(clock or time.time(), UTC),
    )


def _transaction(**fields: object) -> dict[str, object]:
    return {
        "mchid": MCHID,
        "appid": APPID,
        "out_trade_no": "P1",
        "transaction_id": "4200000001",
        "trade_state": "SUCCESS",
        "amount": {"total": 500000, "currency": "CNY"},
        **fields,
    }


def _fields(made: object) -> dict[str, str]:
    headers = {k.lower(): v for k, v in made.headers.items()}  # type: ignore[attr-defined]
    return callback_fields(headers, made.body.encode())  # type: ignore[attr-defined]


def test_a_callback_signed_and_encrypted_by_wechat_pay_verifies_and_translates() -> None:
    made = STANDIN.callback("TRANSACTION.SUCCESS", _transaction())
    note = _provider().verify_notification(_fields(made))
    assert (note.provider, note.trade_no, note.provider_txn_id, note.amount_fen, note.status) == (
        "wechat",
        "P1",
        "4200000001",
        500000,
        NotificationStatus.SUCCEEDED,
    )


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"wechatpay-signature": "AAAA"}, "does not verify"),
        ({"wechatpay-serial": "PUB_KEY_ID_OTHER"}, "unknown key"),
        ({"wechatpay-signature-type": "WECHATPAY2-SM2-WITH-SM3"}, "RSA2048"),
        ({"wechatpay-nonce": "other"}, "does not verify"),
        ({"wechatpay-signature": ""}, "not signed"),
    ],
)
def test_a_forged_or_altered_callback_is_refused(change: dict[str, str], why: str) -> None:
    made = STANDIN.callback("TRANSACTION.SUCCESS", _transaction())
    with pytest.raises(PaymentFailed, match=why) as err:
        _provider().verify_notification({**_fields(made), **change})
    assert err.value.code is ErrorCode.SIGNATURE_INVALID


def test_a_stale_callback_or_one_for_another_merchant_is_refused() -> None:
    stale = STANDIN.callback("TRANSACTION.SUCCESS", _transaction(), timestamp=int(time.time()) - 301)
    with pytest.raises(PaymentFailed, match="outside the window"):
        _provider().verify_notification(_fields(stale))
    foreign = STANDIN.callback("TRANSACTION.SUCCESS", _transaction(mchid="1900000999"))
    with pytest.raises(PaymentFailed, match="another merchant"):
        _provider().verify_notification(_fields(foreign))
    wrong_key = WeChatPayStandIn(merchant_key=STANDIN.merchant_key, platform_key=STANDIN.platform_key)
    undecryptable = wrong_key.callback("TRANSACTION.SUCCESS", _transaction())  # another APIv3 key
    with pytest.raises(PaymentFailed, match="cannot be decrypted"):
        _provider().verify_notification(_fields(undecryptable))


def test_a_refund_callback_verifies_as_a_refund_notice_not_as_a_payment() -> None:
    resource = {
        "mchid": MCHID,
        "out_trade_no": "P1",
        "out_refund_no": "RF-P1",
        "refund_id": "503",
        "refund_status": "SUCCESS",
        "amount": {"total": 500000, "refund": 500000},
    }
    made = STANDIN.callback("REFUND.SUCCESS", resource)
    notice = _provider().verify_refund_notice(_fields(made))
    assert (notice.refund_no, notice.amount_fen, notice.succeeded) == ("RF-P1", 500000, True)
    with pytest.raises(PaymentFailed, match="not a payment"):
        _provider().verify_notification(_fields(made))
    abnormal = STANDIN.callback("REFUND.ABNORMAL", {**resource, "refund_status": "ABNORMAL"})
    assert not _provider().verify_refund_notice(_fields(abnormal)).succeeded


def test_non_final_states_are_not_outcomes_and_amounts_must_be_positive_integers() -> None:
    with pytest.raises(PaymentFailed) as err:
        translate_transaction("wechat", _transaction(trade_state="NOTPAY"), mchid=MCHID, appid=APPID)
    assert err.value.data["final"] is False
    for total in (0, -1, "500000", 1.5, True):
        with pytest.raises(PaymentFailed, match="malformed amount"):
            translate_transaction("wechat", _transaction(amount={"total": total}), mchid=MCHID, appid=APPID)


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=-(10**6), max_value=10**6))
def test_freshness_is_symmetric_and_exact_at_the_window(window: int, offset: int) -> None:
    now = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    stamp = str(int(now.timestamp()) + offset) if int(now.timestamp()) + offset >= 0 else "-1"
    assert is_fresh(stamp, now, window) is (abs(offset) <= window)


@given(st.lists(st.integers(min_value=1, max_value=10**10), min_size=1, max_size=20))
def test_the_trade_bill_lists_each_payment_and_refund_to_the_fen(amounts: list[int]) -> None:
    rows = [BILL_HEADER]
    for i, fen in enumerate(amounts):
        yuan = f"`{fen // 100}.{fen % 100:02d}"
        state, refund = ("REFUND", yuan) if i % 3 == 2 else ("SUCCESS", "`0.00")
        paid = "`0.00" if state == "REFUND" else yuan
        rows.append(
            f"`2026-12-07 10:00:00,`{APPID},`{MCHID},`0,`,`42{i},`P{i},`o,`NATIVE,`{state},`OTHERS,`CNY,"
            f"{paid},`0.00,`50{i},`RF{i},{refund},`0.00,`ORIGINAL,`SUCCESS,`x,`,`0.00,`0.60%,{yuan},`0.00,`"
        )
    rows += ["总交易单数,应结订单总金额", "`1,`0.00"]
    lines = parse_trade_bill("\n".join(rows))
    assert [(ln.trade_no, ln.amount_fen) for ln in lines] == [(f"P{i}", fen) for i, fen in enumerate(amounts)]
    assert [ln.kind for ln in lines] == ["refund" if i % 3 == 2 else "payment" for i in range(len(amounts))]
    assert all(ln.refund_no == f"RF{i}" for i, ln in enumerate(lines) if ln.kind == "refund")


def test_half_configured_wechat_pay_is_refused_and_full_configuration_is_offered() -> None:
    full = STANDIN.settings()
    base = {"environment": "test", "secret_key": SecretStr("k" * 40)}
    for name in WECHAT_FIELDS:
        half = {**full, name: SecretStr("") if isinstance(full[name], SecretStr) else ""}
        with pytest.raises(ValueError, match=f"CARLOOP_{name.upper()}"):
            Settings(**base, **half)
    with pytest.raises(ValueError, match="half configured"):
        Settings(**base, payment_provider="wechat")
    assert Settings(**base, **full).payment_providers == ["simulator", "wechat"]
    assert Settings(**base, **full, payment_provider="wechat").payment_providers == ["wechat"]
    real = {
        "secret_key": SecretStr("k" * 40),
        "public_base_url": "https://shop.example",
        "realname_verifier": "tencent",  # production refuses the checksum-only stand-in
        "realname_tencent_secret_id": "AKIDtest",
        "realname_tencent_secret_key": SecretStr("t" * 32),
        "einvoice_provider": "disabled",  # production refuses the e-invoice stand-in
    }
    sms = {  # production refuses to start without an SMS provider (sign-in codes)
        "sms_provider": "aliyun",
        "sms_access_key_id": "id",
        "sms_access_key_secret": SecretStr("secret"),
        "sms_sign_name": "卡路智行",
        "sms_templates": {"login_code": "SMS_1", "registration_code": "SMS_1"},
    }
    production = Settings(environment="production", payment_provider="wechat", **real, **full, **sms)
    assert production.payment_providers == ["wechat"]
