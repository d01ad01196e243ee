"""The HTTP side of a predict request, in raw ASGI: its target, token and body, and answers.

All of it runs on every request: it allocates little and calls nothing remote.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from flotilla.domain.errors import (
    BodyTooLarge,
    InvalidArgument,
    MalformedRequest,
    MethodNotAllowed,
    RouteNotFound,
    Unauthenticated,
)
from flotilla.gateway.errors import Answer

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

CLIENT_GONE = 499
"""Status recorded (never sent) for a caller that left before its answer, as nginx does."""
VALIDATE_JSON_BYTES = 1 << 20
"""Bodies up to this size are parsed here (bad JSON gets 400 without bothering a replica);
larger ones are left to the replica, which checks them too, so that parsing a large body never
stalls the gateway's event loop."""
JSON_HEADERS = [(b"content-type", b"application/json")]


class ClientGone(Exception):
    """The caller disconnected before its answer."""


def predict_target(scope: Scope) -> tuple[str | None, str]:
    """(owner in the path or None, deployment id) of a predict path; raises 404/405."""
    parts = scope["path"].split("/")
    if len(parts) == 5 and parts[1] == "v1" and parts[2] == "deployments" and parts[3]:
        owner, deployment_id = None, parts[3]
    elif (
        len(parts) == 7
        and parts[1] == "v1"
        and parts[2] == "users"
        and parts[4] == "deployments"
        and parts[3]
        and parts[5]
    ):
        owner, deployment_id = parts[3], parts[5]
    else:
        raise Answer(RouteNotFound("no such route; POST /v1/deployments/{id}/predict"))
    if scope["method"] != "POST":
        answer = Answer(MethodNotAllowed(f"{scope['method']} is not allowed here; use POST"))
        answer.headers.append((b"allow", b"POST"))
        raise answer
    return owner, deployment_id


def bearer_and_length(scope: Scope) -> tuple[str, int]:
    """(the bearer token, the declared body length or -1)."""
    authorization = b""
    length = -1
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = value
        elif name == b"content-length":
            with contextlib.suppress(ValueError):
                length = int(value)
    if authorization[:7].lower() != b"bearer " or not authorization[7:].strip():
        raise Answer(
            Unauthenticated("missing token: send 'Authorization: Bearer <token>'"), status=401
        )
    return authorization[7:].strip().decode("latin-1"), length


def too_large(limit: int) -> Answer:
    return Answer(BodyTooLarge(f"the body exceeds {limit} bytes"))


async def read_body(receive: Receive, limit: int) -> bytes:
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ClientGone()
    body: bytes = message.get("body", b"")
    if not message.get("more_body"):
        if len(body) > limit:
            raise too_large(limit)
        return body
    parts, size = [body], len(body)
    while message.get("more_body"):
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        parts.append(chunk)
    return b"".join(parts)


def check_json(body: bytes) -> None:
    if len(body) > VALIDATE_JSON_BYTES:
        if body.lstrip()[:1] != b"{":
            raise Answer(MalformedRequest('the body must be a JSON object: {"inputs": …}'))
        return
    try:
        payload = json.loads(body)
    except ValueError:  # UnicodeDecodeError included
        raise Answer(MalformedRequest("the body is not valid JSON")) from None
    if not isinstance(payload, dict) or "inputs" not in payload:
        raise Answer(
            InvalidArgument('the body must be {"inputs": …}', fields={"inputs": "required"})
        )


async def disconnected(receive: Receive) -> None:
    """Returns when the caller disconnects (the body has been read already)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def send_raw(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_json(send: Send, status: int, payload: object) -> None:
    await send_raw(send, status, JSON_HEADERS, json.dumps(payload).encode())


async def send_error(send: Send, answer: Answer) -> None:
    await send({"type": "http.response.start", "status": answer.status, "headers": answer.headers})
    await send({"type": "http.response.body", "body": answer.body})
