"""Walk the site as a visitor, a buyer, an owner, staff, HQ's administrator and a supplier would, and say
what is wrong on each page.

One browser context per role: every page is opened in zh-CN and in English at 1280×800, then resized to
390×844 (a phone) without reloading. On each visit the walk records a horizontal overflow, a console
error, a failing response, a link that answers 404, an English word on a Chinese page outside product
names, and the WCAG 2.1 A/AA violations axe-core (vendored from npm under ``vendor/``) finds.
Links found on the pages are followed up to ``MAX_PAGES`` per role, one page per URL shape
(``/orders/<number>`` once), so the walk grows with the site without repeating itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
MAX_PAGES = 40
ROLES = ("visitor", "buyer", "owner", "staff", "admin", "supplier")
# The demo's staff login each staff-side role walks as, and the page its sign-in lands on.
STAFF_LOGINS = {
    "staff": ("ops", "/console"),
    "admin": ("admin", "/console"),
    "supplier": ("ningde", "/supplier"),
}
START = {
    "visitor": [
        "/",
        "/models",
        "/configure/su7",
        "/configure/yu7",
        "/community/roadmap",
        "/login",
        "/staff/login",
    ],
    "buyer": ["/", "/orders", "/appointments", "/shop", "/me"],
    "owner": ["/orders", "/ecosystem", "/community", "/me"],
    "staff": ["/console", "/staff/orders", "/staff/production", "/console/analytics"],
    "admin": ["/console", "/console/staff", "/console/audit", "/console/campaigns", "/staff/supply"],
    "supplier": ["/supplier", "/supplier/login"],
}
# Pages that answer an error on purpose (404, 403 where the role may not look, or sign in first).
ERROR_PAGES = ("/no-such-page", "/orders/SU7-NOSUCHORDER", "/models/no-such-model")
SKIP = re.compile(r"^/(static|api|logout|pay/|favicon)|/export/|\.(csv|parquet|pdf|svg|png)$")
# Words that may stay in Latin letters on a Chinese page: product and brand names, units, formats.
LATIN_OK = {
    "carloop", "xiaomi", "su7", "yu7", "pro", "max", "ultra", "nappa", "pilot", "brembo", "alcantara",
    "lidar", "sound", "english", "csv", "parquet", "json", "hhi", "cr4", "cr8", "vin", "suv", "km", "kwh",
    "mqtt", "yaml", "home", "assistant", "byd", "tesla", "aito", "wechat", "alipay", "pdf", "ota", "app",
    "demo", "wmi", "ms", "cltc", "api",
}  # fmt: skip


@dataclass
class Report:
    """What one role's walk saw: the pages it visited and every problem, one line each."""

    visited: list[str] = field(default_factory=list)  # paths, in the order they were walked
    problems: list[str] = field(default_factory=list)
    axe: dict[str, set[str]] = field(default_factory=dict)  # page -> axe rule ids violated
    latin: dict[str, set[str]] = field(default_factory=dict)  # zh page -> English words found


def shape(path: str) -> str:
    """A path without its query, with its ids and numbers replaced: one visit per kind of page."""
    path = re.sub(r"/\d+(?=/|$)", "/N", path.split("?")[0])
    return re.sub(r"/[A-Z0-9]{2,}-[A-Z0-9-]+", "/CODE", path)


def sign_in(page: Page, role: str, passwords: dict[str, str]) -> None:
    """Sign the context in as the role's demo user (visitors stay anonymous); ``passwords`` are the
    demo's staff and supplier passwords by username."""
    if role in ("buyer", "owner"):
        page.goto("/login?lang=en")
        page.get_by_test_id("phone").fill("13800138000" if role == "buyer" else "13900139000")
        page.get_by_test_id("send-code").click()
        code = page.get_by_test_id("dev-code").locator("strong").inner_text()
        page.get_by_test_id("code").fill(code)
        page.get_by_test_id("sign-in").click()
        page.wait_for_url(re.compile(r"^(?!.*/login)"))
    elif role in STAFF_LOGINS:
        username, lands = STAFF_LOGINS[role]
        page.goto("/staff/login?lang=en")
        page.get_by_test_id("username").fill(username)
        page.get_by_test_id("password").fill(passwords[username])
        page.get_by_test_id("sign-in").click()
        page.wait_for_url(re.compile(re.escape(lands)), timeout=30_000)  # argon2 on a busy machine


def _latin_words(text: str) -> set[str]:
    words = set(re.findall(r"(?<![A-Za-z0-9@._/-])[A-Za-z][A-Za-z'-]{2,}(?![A-Za-z0-9@._/-])", text))
    return {w for w in words if w.lower() not in LATIN_OK and not re.fullmatch(r"[A-Z0-9]{6,}", w)}  # codes


def _copy_text(page: Page) -> str:
    """The main element's visible text, without what the page marks as not to be translated
    (``translate="no"``: commands, codes, echoed input, a job's technical detail)."""
    return str(page.evaluate(JS_COPY_TEXT))


# Swap each translate="no" element for a blank while main's rendered text is read, then put it back
# (removing the elements' texts from the whole text instead would also cut "1" out of "2026").
JS_COPY_TEXT = """() => {
  const swapped = [...document.querySelectorAll('main [translate="no"]')].map(el => {
    const blank = document.createElement('span');
    blank.textContent = ' ';
    el.replaceWith(blank);
    return [blank, el];
  });
  const text = document.querySelector('main').innerText;
  swapped.forEach(([blank, el]) => blank.replaceWith(el));
  return text;
}"""


def _overflow(page: Page) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def _axe(page: Page) -> set[str]:
    page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        WCAG,
    )
    return {f"{v['id']} ({len(v['nodes'])})" for v in result["violations"]}


def _links(page: Page) -> set[str]:
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    found = set()
    for href in hrefs:
        parts = urlsplit(href)
        if parts.scheme or parts.netloc or not parts.path.startswith("/") or SKIP.search(parts.path):
            continue
        query = "&".join(q for q in parts.query.split("&") if q and not q.startswith("lang="))
        found.add(parts.path + (f"?{query}" if query else ""))
    return found


def walk_role(browser: Browser, base_url: str, role: str, passwords: dict[str, str]) -> Report:
    """Walk the role's pages (start pages, error pages, then the links found), in both languages."""
    report = Report()
    context: BrowserContext = browser.new_context(
        base_url=base_url, viewport=DESKTOP, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    try:
        sign_in(page, role, passwords)
        todo = [*START[role], *ERROR_PAGES]
        shapes: set[str] = set()
        checked_links: dict[str, int] = {}
        while todo and len(report.visited) < MAX_PAGES:
            path = todo.pop(0)
            if shape(path) in shapes:
                continue
            shapes.add(shape(path))
            report.visited.append(path)
            for link in sorted(_visit(page, context, path, report, errors, checked_links)):
                if shape(link) not in shapes and link not in todo:
                    todo.append(link)
    finally:
        context.close()
    return report


def _visit(
    page: Page,
    context: BrowserContext,
    path: str,
    report: Report,
    errors: list[str],
    checked_links: dict[str, int],
) -> set[str]:
    expected = path.split("?")[0] in ERROR_PAGES
    links: set[str] = set()
    for lang in ("zh-CN", "en"):
        errors.clear()
        page.set_viewport_size(DESKTOP)
        response = page.goto(path + ("&" if "?" in path else "?") + f"lang={lang}")
        status = response.status if response else 0
        where = f"{path} [{lang}]"
        if expected and status not in (403, 404) and "/login" not in page.url:
            report.problems.append(f"{where}: answered {status}, expected 404 (or 403)")
        elif not expected and status >= 400:
            report.problems.append(f"{where}: answered {status}")
            return links
        page.wait_for_load_state("load")
        if (wide := _overflow(page)) > 0:
            report.problems.append(f"{where}: {wide} px wider than a 1280 px window")
        page.set_viewport_size(PHONE)
        if (wide := _overflow(page)) > 0:
            report.problems.append(f"{where}: {wide} px wider than a 390 px phone")
        page.set_viewport_size(DESKTOP)
        shown = [e for e in errors if not (expected and "status of 4" in e)]
        report.problems.extend(f"{where}: console error: {e}" for e in shown)
        if page.locator("html").get_attribute("lang") != lang:
            continue  # sent elsewhere (to sign in) without the language: checked where it lands
        if lang == "zh-CN":
            words = _latin_words(_copy_text(page))  # header names are data
            if words:
                report.latin[path] = words
        else:
            violations = _axe(page)
            if violations:
                report.axe[path] = violations
        links |= _links(page)
    for link in sorted(links):
        if link.split("?")[0] in ERROR_PAGES:
            continue  # an error page's language switch links to itself
        if link not in checked_links:
            checked_links[link] = context.request.get(link, max_redirects=0).status
        if checked_links[link] == 404:
            report.problems.append(f"{path}: links to {link}, which answers 404")
    return links
