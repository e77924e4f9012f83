"""Languages: zh-CN and en from Babel catalogs, chosen per request.

The ``.po`` catalogs under ``carloop/locale/<locale>/LC_MESSAGES/`` are the source of truth, one
file per domain (``catalog.po``, ``ordering.po``...). They are compiled in memory and merged at
start-up, so there is no build step and no generated file to forget.
"""

from __future__ import annotations

from starlette.requests import Request

from carloop.messages import translate_message, translations

__all__ = ["LANG_COOKIE", "LOCALES", "negotiate", "normalise", "request_locale", "stated_locale"]
__all__ += ["translate_message", "translations"]

LOCALES = ("zh_CN", "en")
LANG_COOKIE = "carloop_lang"
_ALIASES = {
    "zh": "zh_CN",
    "zh-cn": "zh_CN",
    "zh_cn": "zh_CN",
    "zh-hans": "zh_CN",
    "en": "en",
    "en-us": "en",
    "en_us": "en",
}


def normalise(tag: str | None) -> str | None:
    """A supported locale for a language tag such as ``zh-CN`` or ``en``, or None."""
    if not tag:
        return None
    return _ALIASES.get(tag.strip().lower())


def negotiate(accept_language: str | None, default: str) -> str:
    """The best supported locale for an ``Accept-Language`` header."""
    if not accept_language:
        return default
    preferred = []
    for part in accept_language.split(","):
        lang, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 0.0
        preferred.append((weight, lang.strip().replace("_", "-")))
    preferred.sort(key=lambda item: -item[0])
    for weight, lang in preferred:  # any Chinese variant reads the zh-CN pages; any English, the en ones
        primary = lang.split("-", 1)[0].lower()
        if weight > 0 and primary in ("zh", "en"):
            return "zh_CN" if primary == "zh" else "en"
    return default


def stated_locale(request: Request) -> str | None:
    """The locale the request asked for (``?lang=``, cookie, ``Accept-Language``), or None if it did not."""
    header = request.headers.get("accept-language")
    return (
        normalise(request.query_params.get("lang"))
        or normalise(request.cookies.get(LANG_COOKIE))
        or (negotiate(header, "en") if header else None)
    )


def request_locale(request: Request, default: str) -> str:
    """``?lang=`` first, then the language cookie, then ``Accept-Language``."""
    return (
        normalise(request.query_params.get("lang"))
        or normalise(request.cookies.get(LANG_COOKIE))
        or negotiate(request.headers.get("accept-language"), default)
    )
