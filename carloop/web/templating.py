"""Server-rendered pages: one Jinja2 environment per locale, with locale-aware filters."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_datetime
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from carloop.clock import SHANGHAI, as_utc
from carloop.money import format_fen
from carloop.web.deps import page_principal
from carloop.web.i18n import LANG_COOKIE, LOCALES, normalise, translate_message, translations

TEMPLATES = Path(__file__).parent / "templates"
# Context keys that pages fill with a domain error's English message (``err.message``).
TRANSLATED_CONTEXT = ("error", "slot_error", "problems")


def same_page_url(request: Request, **params: str) -> str:
    """This page's URL, as a path on this site, with ``params`` set in its query.

    A request for ``//evil.example/x`` has that as its path; echoed into a link it would be a
    protocol-relative URL to another site. Leading slashes and backslashes collapse to one ``/``.
    """
    path = "/" + request.url.path.lstrip("/\\")
    query = request.url.include_query_params(**params).query
    return f"{path}?{query}" if query else path


def _environment(locale: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]

    def money(fen: int) -> str:
        return format_fen(fen, locale)

    def when(moment: datetime | None, fmt: str = "medium") -> str:
        if moment is None:
            return ""
        return format_datetime(as_utc(moment), fmt, tzinfo=SHANGHAI, locale=locale)

    def day(moment: datetime | None) -> str:
        """The calendar day of ``moment`` in Shanghai, spelled for the locale (2026年12月12日)."""
        if moment is None:
            return ""
        return format_date(as_utc(moment).astimezone(SHANGHAI), "long", locale=locale)

    def pick(obj: Any, field: str) -> Any:
        """The zh or en variant of a bilingual field (``name_zh`` / ``name_en``)."""
        suffix = "zh" if locale == "zh_CN" else "en"
        if isinstance(obj, dict):
            return obj.get(f"{field}_{suffix}") or obj.get(f"{field}_en")
        return getattr(obj, f"{field}_{suffix}", None) or getattr(obj, f"{field}_en", None)

    def message(text: str) -> str:
        """A stored English message (a reason, as written) in the page's language."""
        return translate_message(locale, text)

    env.filters.update(money=money, when=when, day=day, pick=pick, message=message)
    env.globals.update(
        locale=locale,
        html_lang="zh-CN" if locale == "zh_CN" else "en",
        same_page_url=same_page_url,
        colon="：" if locale == "zh_CN" else ": ",  # after a label: full-width in Chinese text
    )
    return env


class Renderer:
    """Renders a template in the request's language and remembers an explicit ``?lang=`` choice."""

    def __init__(self, default_locale: str, *, development: bool) -> None:
        self.default_locale = default_locale
        self.development = development
        self.environments = {locale: _environment(locale) for locale in LOCALES}

    def add_globals(self, **helpers: Callable[..., Any]) -> None:
        """Make domain helpers callable from every template (the composition root wires them in)."""
        for env in self.environments.values():
            env.globals.update(helpers)

    def render(
        self,
        request: Request,
        template: str,
        context: dict[str, Any] | None = None,
        *,
        status_code: int = 200,
        headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        """An HTML response for ``template`` in the request's locale."""
        locale = getattr(request.state, "locale", self.default_locale)
        env = self.environments[locale]
        full = {
            "request": request,
            "principal": page_principal(request),
            "csrf_token": getattr(request.state, "csrf_token", ""),
            "development": self.development,
            **(context or {}),
        }
        for key in TRANSLATED_CONTEXT:  # domain error messages that pages pass on as they were raised
            if isinstance(full.get(key), str):
                full[key] = translate_message(locale, full[key])
            elif isinstance(full.get(key), list):
                full[key] = [translate_message(locale, v) if isinstance(v, str) else v for v in full[key]]
        html = env.get_template(template).render(full)
        response = HTMLResponse(html, status_code=status_code, headers=headers)
        chosen = normalise(request.query_params.get("lang"))
        if chosen:
            response.set_cookie(LANG_COOKIE, chosen, max_age=365 * 24 * 3600, samesite="lax")
        return response
