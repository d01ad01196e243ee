"""Request body limits, enforced before a handler reads the body (ASGI middleware)."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flotilla.domain.errors import BodyTooLarge, FlotillaError, PackageTooLarge

UPLOAD_PATH = re.compile(r"^(/v1/models/[^/]+/versions|/console/models)/?$")


class BodyLimit:
    """Answers 413 when a body is larger than allowed: at once from Content-Length, or as soon
    as more bytes arrive than allowed. Model package uploads have their own, larger limit."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_package_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_package_bytes = max_package_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = bool(UPLOAD_PATH.match(scope["path"]))
        limit = self.max_package_bytes if upload else self.max_body_bytes
        error = (
            PackageTooLarge(
                f"the package is larger than {limit} bytes (FLOTILLA_MAX_PACKAGE_BYTES)"
            )
            if upload
            else BodyTooLarge(f"the request body is larger than {limit} bytes")
        )
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _send_error(send, error)
            return
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyLimitExceeded(error)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyLimitExceeded:
            if not response_started:
                await _send_error(send, error)


class BodyLimitExceeded(HTTPException):
    """Raised from ``receive``; an HTTPException so that FastAPI's body parsing lets it through
    to the error handlers, which answer with ``error``."""

    def __init__(self, error: FlotillaError) -> None:
        super().__init__(status_code=error.http_status, detail=error.message)
        self.error = error


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_error(send: Send, error: Any) -> None:
    body = json.dumps(error.to_dict()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": error.http_status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
