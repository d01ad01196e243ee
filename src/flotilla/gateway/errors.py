"""The gateway's own errors, in Flotilla's shape ``{"error": {"code", "message"}}``.

The codes the control plane also uses (``DEPLOYMENT_NOT_FOUND``, ``BODY_TOO_LARGE``…) come from
``flotilla.domain.errors``, the data plane's own among them (so the SDK knows them too).
"""

from __future__ import annotations

import json

from flotilla.domain.errors import (
    ComputeStopped,
    ControlPlaneUnavailable,
    DeploymentDisabled,
    FlotillaError,
    NoReplicaReady,
    QueueFull,
    ReplicaTimeout,
    ReplicaUnreachable,
)

__all__ = [
    "Answer",
    "ComputeStopped",
    "ControlPlaneUnavailable",
    "DeploymentDisabled",
    "NoReplicaReady",
    "QueueFull",
    "ReplicaTimeout",
    "ReplicaUnreachable",
    "ServerAuthError",
    "error_body",
]


class ServerAuthError(FlotillaError):
    """The server refused the caller's token; its code (``TOKEN_REVOKED``…) and status are
    passed on."""

    code = "UNAUTHENTICATED"
    http_status = 401

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.server_code = code

    def to_dict(self) -> dict[str, object]:
        return {"error": {"code": self.server_code, "message": self.message}}


def error_body(error: FlotillaError) -> bytes:
    return json.dumps(error.to_dict(), separators=(",", ":")).encode()


class Answer(Exception):
    """An error answer, ready to send: raise it anywhere on the request path."""

    def __init__(
        self, error: FlotillaError, retry_after: float | None = None, status: int | None = None
    ) -> None:
        super().__init__(error.message)
        self.error = error
        self.status = status or error.http_status
        self.code: str = getattr(error, "server_code", error.code)
        self.body = error_body(error)
        self.headers: list[tuple[bytes, bytes]] = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(self.body)).encode()),
        ]
        if retry_after is not None:
            self.headers.append((b"retry-after", str(max(1, round(retry_after))).encode()))
