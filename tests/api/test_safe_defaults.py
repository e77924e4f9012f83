"""Production-safe defaults: no environment means production, test servers keep codes to themselves,
and ``carloop demo`` refuses to seed a production database."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, func, select, text
from typer.testing import CliRunner

from carloop.accounts import service as accounts
from carloop.accounts.schemas import Role
from carloop.cli.main import app as cli
from carloop.db import make_session_factory
from carloop.settings import Settings


@pytest.fixture
def no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "CARLOOP_ENVIRONMENT",
        "CARLOOP_OTP_SENDER",
        "CARLOOP_PAYMENT_PROVIDER",
        "CARLOOP_SECRET_KEY",
        "CARLOOP_SMS_PROVIDER",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("no_environment")
def test_no_environment_means_production_and_placeholder_secrets_are_refused() -> None:
    assert Settings.model_fields["environment"].default == "production"
    with pytest.raises(ValueError, match="CARLOOP_SECRET_KEY must be set in production"):
        Settings()


@pytest.mark.usefixtures("no_environment")
def test_production_refuses_the_simulator_and_codes_on_the_page() -> None:
    real = {"secret_key": "k" * 40, "public_base_url": "https://shop.example"}
    with pytest.raises(ValueError, match="payment simulator"):
        Settings(**real)
    with pytest.raises(ValueError, match="OTP_SENDER=page"):
        Settings(**real, payment_provider="alipay", otp_sender="page")
    with pytest.raises(ValueError, match="PUBLIC_BASE_URL"):
        Settings(secret_key="k" * 40, payment_provider="alipay")


@pytest.mark.usefixtures("no_environment")
def test_production_refuses_to_start_without_an_sms_provider_or_with_half_of_one() -> None:
    real = {
        "secret_key": "k" * 40,
        "public_base_url": "https://shop.example",
        "payment_provider": "alipay",
        "realname_verifier": "tencent",
        "realname_tencent_secret_id": "AKIDtest",
        "realname_tencent_secret_key": "t" * 32,
        "einvoice_provider": "disabled",  # production refuses the e-invoice stand-in
    }
    with pytest.raises(ValueError, match=r"nobody can sign in\): set CARLOOP_SMS_PROVIDER"):
        Settings(**real)
    with pytest.raises(ValueError, match="needs CARLOOP_SMS_ACCESS_KEY_SECRET, CARLOOP_SMS_APP_ID"):
        Settings(
            **real,
            sms_provider="tencent",
            sms_access_key_id="id",
            sms_sign_name="卡路智行",
            sms_templates={"login_code": "1", "registration_code": "1"},
        )
    configured = Settings(
        **real,
        sms_provider="aliyun",
        sms_access_key_id="id",
        sms_access_key_secret="secret",
        sms_sign_name="卡路智行",
        sms_templates={"login_code": "SMS_1", "registration_code": "SMS_1"},
    )
    assert configured.sms_provider == "aliyun" and not configured.shows_codes
    for gateway in ("alipay_gateway", "wechat_gateway"):  # payments travel in them: https, or this machine
        with pytest.raises(ValueError, match=f"CARLOOP_{gateway.upper()} must be https in production"):
            configured.model_validate(
                {**configured.model_dump(), gateway: "http://pay.example.com/gateway.do"}
            )
        for fine in ("https://openapi.alipay.com/gateway.do", "http://127.0.0.1:8123/gateway.do"):
            configured.model_validate({**configured.model_dump(), gateway: fine})
    development = Settings(environment="development", alipay_gateway="http://pay.example.com/gateway.do")
    assert development.alipay_gateway.startswith("http://")  # the demo and tests point anywhere


@pytest.mark.usefixtures("no_environment")
def test_the_cli_says_why_it_refuses_to_start_without_an_environment(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["ledger", "check", "--database-url", f"sqlite:///{tmp_path}/x.db"])
    assert result.exit_code == 2
    assert "no CARLOOP_ENVIRONMENT means production" in " ".join(result.output.split())


@pytest.fixture
def quiet_test_client(database_url: str, engine: Engine) -> Iterator[TestClient]:
    """A test-environment server that did not ask for codes on the page."""
    from carloop.web.app import create_app

    app = create_app(Settings(environment="test", database_url=database_url, outbox_interval=0))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    app.state.engine.dispose()


def test_a_test_server_hands_out_no_codes_unless_asked_for_page_mode(quiet_test_client: TestClient) -> None:
    reply = quiet_test_client.post("/api/v1/auth/code", json={"phone": "13800138000"})
    assert reply.status_code == 202 and "dev_code" not in reply.json()
    form = quiet_test_client.get("/login", headers={"Accept": "text/html"}).text
    token = re.search(r'name="login_csrf" value="([^"]+)"', form)
    assert token
    page = quiet_test_client.post(
        "/login/code",
        data={"phone": "13800138000", "login_csrf": token.group(1)},
        headers={"Accept": "text/html"},
    )
    assert page.status_code == 200 and 'data-testid="dev-code"' not in page.text


def _orders(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        exists = conn.execute(text("SELECT count(*) FROM sqlite_master WHERE name = 'orders'")).scalar_one()
        count = int(conn.execute(text("SELECT count(*) FROM orders")).scalar_one()) if exists else 0
    engine.dispose()
    return count


def test_demo_refuses_when_the_environment_is_production(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/prod.db"
    result = CliRunner().invoke(
        cli, ["demo", "--no-serve", "--launch-orders", "0", "--database-url", url],
        env={"CARLOOP_ENVIRONMENT": "production"},
    )  # fmt: skip
    assert result.exit_code == 3, result.output
    said = " ".join(result.output.split())
    assert "refuses" in said and "CARLOOP_ENVIRONMENT is production" in said
    assert _orders(url) == 0


def test_demo_refuses_a_database_with_real_staff_and_seeds_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/prod.db"
    from carloop.cli import db

    engine = create_engine(url)
    db.upgrade(engine)
    with make_session_factory(engine).begin() as s:
        accounts.create_staff(
            session=s, actor=None, username="li.wei", display_name="Li Wei", password="a-long-password-1",
            role=Role.ADMIN, store_id=None,
        )  # fmt: skip
    engine.dispose()
    result = CliRunner().invoke(cli, ["demo", "--no-serve", "--launch-orders", "0", "--database-url", url])
    assert result.exit_code == 3, result.output
    said = " ".join(result.output.split())
    assert "staff accounts that are not the demo's" in said and "published passwords" in said
    engine = create_engine(url)
    with make_session_factory(engine)() as s:
        from carloop.accounts.models import Staff

        assert s.scalar(select(func.count()).select_from(Staff)) == 1
    engine.dispose()
    assert _orders(url) == 0
