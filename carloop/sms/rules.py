"""Pure rules of text messages: the templates carloop asks providers to approve, how a phone number
is written for each provider, and what a provider's error code means for the sender."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class Failure(StrEnum):
    """Why a provider did not take a message, in the terms the caller acts on."""

    UNAVAILABLE = "unavailable"  # outage, timeout, 5xx: try again later
    LIMITED = "limited"  # the provider's own frequency control for this number: later
    NUMBER = "number"  # the provider refuses this number: do not retry
    CONFIG = "config"  # keys, sign name or template are wrong: staff must fix settings


RETRYABLE = frozenset({Failure.UNAVAILABLE, Failure.LIMITED, Failure.CONFIG})


@dataclass(frozen=True)
class Template:
    """One message carloop sends; providers require the text approved in advance, in zh-CN."""

    purpose: str
    params: tuple[str, ...]  # the variables, in the order Tencent's positional {1}, {2}... use
    text_zh: str  # as registered with Alibaba Cloud (${name} variables)

    def tencent_text(self) -> str:
        """The same text with Tencent's positional variables."""
        text = self.text_zh
        for index, name in enumerate(self.params, start=1):
            text = text.replace("${" + name + "}", "{" + str(index) + "}")
        return text


LOGIN_CODE = "login_code"
REGISTRATION_CODE = "registration_code"  # a campaign's pre-registration, not a sign-in

TEMPLATES: dict[str, Template] = {
    t.purpose: t
    for t in (
        Template(
            LOGIN_CODE,
            ("code", "minutes"),
            "您的登录验证码为${code}，${minutes}分钟内有效。如非本人操作，请忽略本短信。",
        ),
        Template(
            REGISTRATION_CODE,
            ("code", "minutes"),
            "您正在预约新车发布会，验证码为${code}，${minutes}分钟内有效。如非本人操作，请忽略本短信。",
        ),
        Template(
            "eta_changed",
            ("order", "date"),
            "您的订单${order}预计交付日期已更新为${date}，详情请登录查看。",
        ),
        Template(
            "delivery_slot",
            ("order", "slot"),
            "您的订单${order}交付时间已确定：${slot}，请准时到店。",
        ),
        Template(
            "money",
            ("order", "amount"),
            "您的订单${order}有一笔款项变动：${amount}，详情请登录查看。",
        ),
        Template(
            "lock_warning",
            ("order", "deadline"),
            "您的订单${order}将于${deadline}锁定配置，如需修改请尽快登录处理。",
        ),
        Template(
            "orders_open",
            ("model",),
            "您预约的${model}现已开放订购，登录官网或App即可下单。拒收请回复R",
        ),
    )
}

_MAINLAND = re.compile(r"\+86(1\d{10})")


def national_number(phone: str) -> str:
    """``+8613800138000`` as Alibaba Cloud wants it for mainland numbers: ``13800138000``."""
    match = _MAINLAND.fullmatch(phone)
    return match.group(1) if match else phone.lstrip("+")


def e164(phone: str) -> str:
    """The number as Tencent Cloud wants it: ``+86`` and the 11 digits."""
    return phone if phone.startswith("+") else "+86" + phone


def masked(phone: str) -> str:
    """A number safe for a log line: ``+86138****8000``."""
    return phone[:-8] + "****" + phone[-4:] if len(phone) > 8 else "****"


def template_key(purpose: str, locale: str) -> tuple[str, ...]:
    """Settings keys to look up for ``purpose`` in ``locale``, most specific first (``eta_changed:en``)."""
    return (f"{purpose}:{locale}", purpose) if locale != "zh_CN" else (purpose,)


def choose_template(templates: Mapping[str, str], purpose: str, locale: str) -> str | None:
    """The configured template code for ``purpose`` (an ``:en`` variant for English readers if any)."""
    for key in template_key(purpose, locale):
        if templates.get(key):
            return templates[key]
    return None


def ordered_params(purpose: str, params: Mapping[str, str]) -> list[str]:
    """The variables of ``purpose`` in template order (Tencent's positional parameters)."""
    return [str(params[name]) for name in TEMPLATES[purpose].params]


ALIYUN_FAILURES: dict[str, Failure] = {
    "isv.MOBILE_NUMBER_ILLEGAL": Failure.NUMBER,
    "isv.MOBILE_COUNT_OVER_LIMIT": Failure.NUMBER,
    "isv.BLACK_KEY_CONTROL_LIMIT": Failure.NUMBER,
    "isv.BUSINESS_LIMIT_CONTROL": Failure.LIMITED,
    "isv.DAY_LIMIT_CONTROL": Failure.LIMITED,
    "Throttling.User": Failure.LIMITED,
    "isv.SMS_SIGNATURE_ILLEGAL": Failure.CONFIG,
    "isv.SMS_TEMPLATE_ILLEGAL": Failure.CONFIG,
    "isv.TEMPLATE_MISSING_PARAMETERS": Failure.CONFIG,
    "isv.INVALID_PARAMETERS": Failure.CONFIG,
    "isv.AMOUNT_NOT_ENOUGH": Failure.CONFIG,
    "isv.OUT_OF_SERVICE": Failure.CONFIG,
    "SignatureDoesNotMatch": Failure.CONFIG,
    "InvalidAccessKeyId.NotFound": Failure.CONFIG,
    "Forbidden.RAM": Failure.CONFIG,
}

TENCENT_FAILURES: dict[str, Failure] = {
    "InvalidParameterValue.IncorrectPhoneNumber": Failure.NUMBER,
    "FailedOperation.PhoneNumberInBlacklist": Failure.NUMBER,
    "LimitExceeded.PhoneNumberDailyLimit": Failure.LIMITED,
    "LimitExceeded.PhoneNumberOneHourLimit": Failure.LIMITED,
    "LimitExceeded.PhoneNumberThirtySecondLimit": Failure.LIMITED,
    "LimitExceeded.DeliveryFrequencyLimit": Failure.LIMITED,
    "RequestLimitExceeded": Failure.LIMITED,
    "FailedOperation.SignatureIncorrectOrUnapproved": Failure.CONFIG,
    "FailedOperation.TemplateIncorrectOrUnapproved": Failure.CONFIG,
    "FailedOperation.InsufficientBalanceInSmsPackage": Failure.CONFIG,
    "InvalidParameterValue.TemplateParameterFormatError": Failure.CONFIG,
    "AuthFailure.SignatureFailure": Failure.CONFIG,
    "AuthFailure.SecretIdNotFound": Failure.CONFIG,
    "AuthFailure.SignatureExpire": Failure.CONFIG,
    "UnauthorizedOperation.SmsSdkAppIdVerifyFail": Failure.CONFIG,
}


def classify(provider: str, code: str) -> Failure:
    """What ``code`` from ``provider`` means; anything unknown (5xx, network) is an outage."""
    table = ALIYUN_FAILURES if provider == "aliyun" else TENCENT_FAILURES
    if code in table:
        return table[code]
    if code.startswith(("AuthFailure", "UnauthorizedOperation")):
        return Failure.CONFIG
    return Failure.UNAVAILABLE
