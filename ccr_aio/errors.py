"""The one error type handlers raise, and its Anthropic-shaped JSON body."""

from __future__ import annotations

from collections.abc import Mapping

from .shapes.anthropic import ErrorEvent, ErrorType

ERROR_TYPES: dict[int, ErrorType] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "api_error",
    504: "api_error",
    529: "overloaded_error",
}


def error_type_for(status: int) -> ErrorType:
    if status in ERROR_TYPES:
        return ERROR_TYPES[status]
    return "invalid_request_error" if 400 <= status < 500 else "api_error"


class ApiError(Exception):
    """An error that reaches the client as `{"type":"error","error":{...}}` with `status`."""

    def __init__(self, status: int, message: str, error_type: str | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type or error_type_for(status)
        # Response headers for the client (a provider's retry-after), set by the error middleware.
        self.headers: dict[str, str] = dict(headers) if headers else {}
        # More fields for the body's `error` object (a refused save's `problems` with their paths).
        self.details: dict[str, object] = {}

    def body(self) -> ErrorEvent:
        return error_body(self.status, self.message, self.error_type)


def error_body(status: int, message: str, error_type: str | None = None) -> ErrorEvent:
    return {"type": "error", "error": {"type": error_type or error_type_for(status), "message": message}}
