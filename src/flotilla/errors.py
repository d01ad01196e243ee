"""Every error the SDK raises, one class per stable code.

The server answers ``{"error": {"code": "NODEPOOL_NOT_FOUND", "message": …, "fields": …}}``; the
SDK raises the class of that code, the very class the server raised::

    import flotilla
    from flotilla.errors import NodepoolNotFound

    try:
        flotilla.Client().nodepools.get("gpu-east", "a10-pool")
    except NodepoolNotFound as error:
        print(error.code, error.message)

Codes form families, so ``except NotFound`` catches every ``*_NOT_FOUND``, ``except Conflict``
every ``*_ALREADY_EXISTS`` and ``*_IN_USE``, and ``except FlotillaError`` every answer. A code
this version does not know still raises ``FlotillaError``, with ``.code`` set to it.

The codes are the server's and the gateway's (``flotilla.domain.errors``: ``*_NOT_FOUND``,
``NO_REPLICA_READY``…); a replica's model answers ``INVALID_INPUT`` and ``MODEL_ERROR`` (passed on
by the gateway; raised as ``FlotillaError`` with that code). When there is no answer at all the
SDK raises a ``ClientError``: ``ServerUnreachable`` (``SERVER_UNREACHABLE``), ``RequestTimedOut``
(``REQUEST_TIMED_OUT``), ``WaitTimedOut`` (``WAIT_TIMED_OUT``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from flotilla.domain.errors import (
    ERRORS_BY_CODE as SERVER_ERRORS_BY_CODE,
)
from flotilla.domain.errors import (
    AlreadyExists,
    BodyTooLarge,
    CapacityTypeNotAllowed,
    CloudProviderNotFound,
    ClusterAlreadyExists,
    ClusterHasDeployments,
    ClusterNotFound,
    ComputeStopped,
    Conflict,
    ControlPlaneUnavailable,
    DeploymentAlreadyExists,
    DeploymentDisabled,
    DeploymentNotFound,
    FieldImmutable,
    FlotillaError,
    InstanceTypeNotFound,
    InternalError,
    InvalidArgument,
    MalformedRequest,
    MethodNotAllowed,
    ModelAlreadyExists,
    ModelDoesNotFit,
    ModelHasNoVersions,
    ModelInUse,
    ModelNotFound,
    ModelVersionNotFound,
    NodeNotFound,
    NodepoolAlreadyExists,
    NodepoolInUse,
    NodepoolNotFound,
    NoReplicaReady,
    NotFound,
    ObjectDeleting,
    PackageInvalid,
    PackageTooLarge,
    PermissionDenied,
    QueueFull,
    ReplicaTimeout,
    ReplicaUnreachable,
    RouteNotFound,
    TokenAlreadyExists,
    TokenExpired,
    TokenNotFound,
    TokenNotUsable,
    TokenRevoked,
    Unauthenticated,
    UnknownCloudProvider,
    UnknownInstanceType,
    UnknownRegion,
    UnsupportedMediaType,
    UserAlreadyExists,
    UserNotFound,
)


class ClientError(Exception):
    """The SDK got no answer: the server could not be reached, or did not answer in time, or
    ``wait_until_ready`` gave up. Like ``FlotillaError`` it has a stable ``code`` and a
    ``message``; unlike it, no server said so (catch both with ``except (FlotillaError,
    ClientError)``, as the CLI does)."""

    code: ClassVar[str] = "CLIENT_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.fields: dict[str, str] = {}


class ServerUnreachable(ClientError):
    """No connection to the server (or gateway), after the retries idempotent calls get."""

    code = "SERVER_UNREACHABLE"


class RequestTimedOut(ClientError):
    """The server took longer than the call's timeout to answer."""

    code = "REQUEST_TIMED_OUT"


class WaitTimedOut(ClientError):
    """``wait_until_ready`` (or ``--wait``) gave up: the object is not ready yet."""

    code = "WAIT_TIMED_OUT"


def _export_every_server_error() -> None:
    """Every class the server raises is importable from here, the ones named above for type
    checkers and editors, and any other the domain module holds (a code added there later)."""
    namespace = globals()
    for cls in SERVER_ERRORS_BY_CODE.values():
        if cls.__name__ not in namespace:
            namespace[cls.__name__] = cls
            __all__.append(cls.__name__)


ERRORS_BY_CODE: dict[str, type[FlotillaError]] = dict(SERVER_ERRORS_BY_CODE)
"""Every code a server answers, to its class."""


def error_from_code(
    code: str, message: str, fields: dict[str, Any] | None = None, status: int | None = None
) -> FlotillaError:
    """The exception for ``code``; for a code without a class of its own (a newer server's, or
    a model's own: ``INVALID_INPUT``, ``MODEL_ERROR``), a ``FlotillaError`` whose ``code`` (and
    ``http_status``) are the ones answered."""
    cls = ERRORS_BY_CODE.get(code)
    clean = {str(k): str(v) for k, v in (fields or {}).items()}
    if cls is not None:
        return cls(message, fields=clean)
    error = FlotillaError(message, fields=clean)
    # An instance attribute shadows the class's: the code stays what the server said.
    setattr(error, "code", code)  # noqa: B010
    if status is not None:
        setattr(error, "http_status", status)  # noqa: B010
    return error


__all__: list[str] = [
    "ERRORS_BY_CODE",
    "AlreadyExists",
    "BodyTooLarge",
    "CapacityTypeNotAllowed",
    "ClientError",
    "CloudProviderNotFound",
    "ClusterAlreadyExists",
    "ClusterHasDeployments",
    "ClusterNotFound",
    "ComputeStopped",
    "Conflict",
    "ControlPlaneUnavailable",
    "DeploymentAlreadyExists",
    "DeploymentDisabled",
    "DeploymentNotFound",
    "FieldImmutable",
    "FlotillaError",
    "InstanceTypeNotFound",
    "InternalError",
    "InvalidArgument",
    "MalformedRequest",
    "MethodNotAllowed",
    "ModelAlreadyExists",
    "ModelDoesNotFit",
    "ModelHasNoVersions",
    "ModelInUse",
    "ModelNotFound",
    "ModelVersionNotFound",
    "NoReplicaReady",
    "NodeNotFound",
    "NodepoolAlreadyExists",
    "NodepoolInUse",
    "NodepoolNotFound",
    "NotFound",
    "ObjectDeleting",
    "PackageInvalid",
    "PackageTooLarge",
    "PermissionDenied",
    "QueueFull",
    "ReplicaTimeout",
    "ReplicaUnreachable",
    "RequestTimedOut",
    "RouteNotFound",
    "ServerUnreachable",
    "TokenAlreadyExists",
    "TokenExpired",
    "TokenNotFound",
    "TokenNotUsable",
    "TokenRevoked",
    "Unauthenticated",
    "UnknownCloudProvider",
    "UnknownInstanceType",
    "UnknownRegion",
    "UnsupportedMediaType",
    "UserAlreadyExists",
    "UserNotFound",
    "WaitTimedOut",
    "error_from_code",
]

_export_every_server_error()
