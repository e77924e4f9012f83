"""RFC 9457 problem details: every error leaves the app as ``application/problem+json``.

API paths get JSON; page paths get the same facts rendered as an HTML page. Nothing ever
leaves with a stack trace.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request, params
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from carloop import errors
from carloop.web.i18n import stated_locale, translate_message

log = logging.getLogger("carloop.web")

PROBLEM_BASE = "https://carloop.dev/problems/"

STATUS_FOR: list[tuple[type[errors.DomainError], int]] = [
    (errors.NotFound, 404),
    (errors.InvalidTransition, 409),
    (errors.Conflict, 409),
    (errors.InvalidConfiguration, 422),
    (errors.PolicyViolation, 422),
    (errors.CapacityExhausted, 409),
    (errors.PaymentFailed, 402),
    (errors.AuthenticationFailed, 401),
    (errors.PermissionDenied, 403),
    (errors.RateLimited, 429),
    (errors.Unavailable, 503),
    (errors.MessageNotSent, 503),
]

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def status_for(exc: errors.DomainError) -> int:
    """The HTTP status a domain error maps to."""
    if exc.code in (errors.ErrorCode.SIGNATURE_INVALID, errors.ErrorCode.MALFORMED_BODY):
        return 400
    if isinstance(exc, errors.MessageNotSent) and not exc.retryable:
        return 422  # the provider refuses this number: asking again will not help
    for cls, status in STATUS_FOR:
        if isinstance(exc, cls):
            return status
    return 400


def problem_body(status: int, code: str, detail: str, *, instance: str, **extra: Any) -> dict[str, Any]:
    """The RFC 9457 problem object every error leaves with (the app's handlers and the fast lanes)."""
    return {
        "type": PROBLEM_BASE + code,
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
        "instance": instance,
        **extra,
    }


def problem(
    request: Request,
    status: int,
    code: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """A problem response: JSON for the API, an HTML page for browsers on page routes.

    ``detail`` is English as raised; it is shown in the page's language, and in the API in the
    language the client asked for (``Accept-Language``, ``?lang=`` or the language cookie).
    """
    html = _wants_html(request)
    locale = getattr(request.state, "locale", None) if html else stated_locale(request)
    if locale:
        detail = translate_message(locale, detail)
        listed = extra.get("problems")
        if (
            locale == "zh_CN"
            and isinstance(listed, list)
            and listed
            and all(isinstance(p, dict) and p.get("message_zh") for p in listed)
        ):  # the catalog's configuration problems carry their own Chinese text
            detail = "".join(str(p["message_zh"]) for p in listed)
    body = problem_body(status, code, detail, instance=request.url.path, **extra)
    if html:
        renderer = getattr(request.app.state, "renderer", None)
        if renderer is not None:
            return renderer.render(
                request, "error.html", {"problem": body}, status_code=status, headers=headers
            )
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


def _wants_html(request: Request) -> bool:
    path = request.url.path
    if path.startswith("/api/") or path in ("/healthz", "/openapi.json"):
        return False
    return "text/html" in request.headers.get("accept", "")


def sign_in_redirect(request: Request) -> RedirectResponse:
    """Send a browser to sign in, then back: to this page, or for a form post to the page it came from."""
    if request.method == "GET":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    else:
        referer = urlsplit(request.headers.get("referer", ""))
        same_site = referer.netloc in ("", request.url.netloc)
        target = (
            (referer.path + (f"?{referer.query}" if referer.query else ""))
            if same_site and referer.path
            else "/"
        )
    login = "/staff/login" if request.url.path.startswith("/staff/") else "/login"
    return RedirectResponse(f"{login}?next={quote(target, safe='')}", status_code=303)


def _clean_validation_errors(raw: list[Any]) -> list[dict[str, Any]]:
    """Each error once (a body two dependencies declare is checked, and refused, twice)."""
    cleaned: list[dict[str, Any]] = []
    for err in raw:
        loc = [str(part) for part in err.get("loc", ())]
        error = {
            "field": ".".join(loc),
            "loc": loc,
            "message": err.get("msg", ""),
            "type": err.get("type", ""),
        }
        if error not in cleaned:
            cleaned.append(error)
    return cleaned


def _not_json(request: Request, exc: RequestValidationError) -> Response:
    """400: where the body stops being JSON, as a line and a column (FastAPI's error says only a
    character offset, as if it were a field: ``body.1``)."""
    raw = next(e for e in exc.errors() if e.get("type") == "json_invalid")
    at, doc = raw["loc"][-1], exc.body
    error: dict[str, Any] = {
        "field": "body",
        "loc": ["body"],
        "message": "JSON decode error",
        "type": "json_invalid",
    }
    if not (isinstance(at, int) and isinstance(doc, str)):
        return problem(request, 400, "malformed-body", "The request body is not valid JSON.", errors=[error])
    line, column = doc.count("\n", 0, at) + 1, at - doc.rfind("\n", 0, at)
    reason = (raw.get("ctx") or {}).get("error")
    error |= {
        "message": f"JSON decode error: {reason}" if reason else error["message"],
        "line": line,
        "column": column,
    }
    return problem(
        request,
        400,
        "malformed-body",
        f"The request body is not valid JSON (line {line}, column {column}).",
        errors=[error],
    )


def _unsupported_media_type(request: Request, exc: RequestValidationError) -> bool:
    """Whether the route takes a JSON body and got one it did not read as JSON: FastAPI hands such a
    route the raw bytes when the Content-Type is not JSON (or is missing), and they fail as a body.
    A form route (pages, the providers' notify callbacks) is never one."""
    body_field = getattr(request.scope.get("route"), "body_field", None)
    if body_field is None or isinstance(body_field.field_info, params.Form):
        return False
    return isinstance(exc.body, bytes) and bool(exc.body)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem response."""

    @app.exception_handler(errors.DomainError)
    async def _domain(request: Request, exc: errors.DomainError) -> Response:
        if isinstance(exc, errors.AuthenticationFailed) and _wants_html(request):
            return sign_in_redirect(request)
        headers = None
        if isinstance(exc, errors.RateLimited | errors.Unavailable):
            headers = {"Retry-After": str(exc.retry_after)}
        extra = {k: v for k, v in exc.data.items() if k != "retry_after"}
        return problem(request, status_for(exc), str(exc.code), exc.message, headers=headers, **extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            return _not_json(request, exc)
        if _unsupported_media_type(request, exc):
            accept = {"POST": "Accept-Post", "PATCH": "Accept-Patch"}.get(request.method)
            return problem(
                request,
                415,
                "unsupported-media-type",
                "Send the request body as JSON (Content-Type: application/json).",
                headers={accept: "application/json"} if accept else None,
            )
        errs = _clean_validation_errors(list(exc.errors()))
        fields = ", ".join(sorted({e["field"] for e in errs})) or "request"
        return problem(request, 422, "validation-error", f"Invalid input: {fields}.", errors=errs)

    @app.exception_handler(ValidationError)
    async def _late_validation(request: Request, exc: ValidationError) -> Response:
        # A handler built an input model from request data (query values, a form) and it did not
        # validate: that is the caller's bad input, the same 422 as FastAPI's own validation.
        errs = _clean_validation_errors(list(exc.errors()))
        fields = ", ".join(sorted({e["field"] for e in errs})) or "request"
        return problem(request, 422, "validation-error", f"Invalid input: {fields}.", errors=errs)

    @app.exception_handler(DataError)
    async def _does_not_fit(request: Request, exc: DataError) -> Response:
        # The database refused a value as data (a NUL in text, a number out of range): input that got
        # past validation but fits no column. Nothing was written (the transaction rolled back).
        log.warning("database refused input on %s %s: %s", request.method, request.url.path, exc.orig)
        return problem(
            request, 422, "validation-error", "A value in the request does not fit; nothing was changed."
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not-found", 405: "method-not-allowed", 413: "body-too-large"}.get(
            exc.status_code, "http-error"
        )
        detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "Error")
        return problem(request, exc.status_code, code, detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(
            request, 500, "internal-error", "Something went wrong on our side; nothing was changed."
        )
