"""One error shape for every response: ``{"error": {"code", "message"}}``.

Exceptions map to HTTP statuses by class in one table; the first class in the exception's MRO
that the table knows wins. Anything unknown is a 500 whose message hides the details (they go to
the log).
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from kickflow import errors as e

log = logging.getLogger("kickflow.api")

STATUS_BY_CLASS: dict[type[Exception], int] = {
    e.NotAuthenticated: 401,
    e.PermissionDenied: 403,
    e.NotFound: 404,
    e.JobNotFound: 404,
    e.OrganisationNotFound: 404,
    e.TokenNotFound: 404,
    e.UserNotFound: 404,
    e.UserExists: 409,
    e.InvitationInvalid: 410,
    e.IllegalTransition: 409,
    e.JobIsRunning: 409,
    e.ReportNotReady: 409,
    e.OrganisationExists: 409,
    e.TooManyFiles: 422,
    e.PriorityNotAllowed: 422,
    e.SubtitleRefused: 422,
    e.LimitReached: 429,
    e.PayloadTooLarge: 413,
    e.UnsupportedMediaType: 415,
    e.RequestInvalid: 400,
    e.InputError: 400,
    e.ProfileError: 400,
    e.GoogleUnavailable: 503,
    e.PdfUnavailable: 503,
    e.DatabaseError: 503,
    e.StoredObjectMissing: 404,
    e.StorageError: 503,
    e.ProtocolMismatch: 426,
    e.LeaseLost: 409,
    e.JobError: 400,
    e.KickflowError: 500,
}

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
}


def error_body(code: str, message: str) -> dict[str, Any]:
    """The JSON body of every error response."""
    return {"error": {"code": code, "message": message}}


def error_response(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    """A JSON error response in the one shape."""
    return JSONResponse(error_body(code, message), status_code=status, headers=headers or None)


def status_for(exc: Exception) -> int:
    """The HTTP status for a product exception."""
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_CLASS:
            return STATUS_BY_CLASS[cls]
    return 500


def _kickflow_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, e.KickflowError)
    status = status_for(exc)
    if status >= 500 and not isinstance(exc, e.DatabaseError):
        log.error("request failed: %s", exc, exc_info=exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if isinstance(exc, e.DatabaseBusy):  # a lock held by another process: worth retrying soon
        headers["Retry-After"] = "1"
    if isinstance(exc, e.SignInThrottled):
        headers["Retry-After"] = str(exc.retry_after)
    return error_response(status, exc.code, exc.message, **headers)


def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return error_response(exc.status_code, code, message, **(exc.headers or {}))


def describe_validation(errors: list[Any]) -> tuple[str, str]:
    """(code, message) for pydantic/FastAPI validation errors, naming each field."""
    if any(err.get("type") == "json_invalid" for err in errors):
        detail = next(err for err in errors if err.get("type") == "json_invalid")
        reason = (detail.get("ctx") or {}).get("error", "invalid JSON")
        return "malformed_json", f"malformed JSON body: {reason}"
    parts = [f"{_field(err.get('loc', ()))}: {_phrase(err)}" for err in errors[:5]]
    return "validation_error", "; ".join(parts) or "invalid request"


def _phrase(err: dict[str, Any]) -> str:
    if err.get("type") == "string_pattern_mismatch":
        return "contains characters that are not allowed (control characters, or not an id)"
    return str(err.get("msg", "invalid"))


def _field(loc: Any) -> str:
    names = [str(p) for p in loc if p not in ("body",)]
    return ".".join(names) or "body"


def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    code, message = describe_validation(list(exc.errors()))
    return error_response(400 if code == "malformed_json" else 422, code, message)


def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error: %s", exc, exc_info=exc)
    return error_response(500, "internal", "internal error; see the service log")


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(e.KickflowError, _kickflow_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
