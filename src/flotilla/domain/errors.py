"""Errors with stable codes.

Every error Flotilla answers carries a ``code`` (stable, SCREAMING_SNAKE), a human message that
says what to fix, and optional ``fields`` naming the offending inputs. The server maps each class
to its HTTP status; the SDK turns a code back into the same class, so a client never parses a
message.
"""

from __future__ import annotations

from typing import Any, ClassVar


class FlotillaError(Exception):
    """Base of every error with a code."""

    code: ClassVar[str] = "INTERNAL"
    http_status: ClassVar[int] = 500

    def __init__(self, message: str, *, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        return {"error": body}


class InternalError(FlotillaError):
    code = "INTERNAL"
    http_status = 500


# 400 / 413 / 415: the request itself is unusable
class MalformedRequest(FlotillaError):
    code = "MALFORMED_REQUEST"
    http_status = 400


class BodyTooLarge(FlotillaError):
    code = "BODY_TOO_LARGE"
    http_status = 413


class UnsupportedMediaType(FlotillaError):
    code = "UNSUPPORTED_MEDIA_TYPE"
    http_status = 415


# 401 / 403: who you are and what you may do
class Unauthenticated(FlotillaError):
    code = "UNAUTHENTICATED"
    http_status = 401


class TokenExpired(Unauthenticated):
    code = "TOKEN_EXPIRED"


class TokenRevoked(Unauthenticated):
    code = "TOKEN_REVOKED"


class PermissionDenied(FlotillaError):
    code = "PERMISSION_DENIED"
    http_status = 403


class CsrfRejected(PermissionDenied):
    """A POST without this session's CSRF token."""

    code = "CSRF_REJECTED"
    http_status = 403

    def __init__(
        self,
        message: str = "this form has expired or did not come from the console; reload the page "
        "and submit it again",
        *,
        fields: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, fields=fields)


# 422: the request is well formed but its content is wrong
class InvalidArgument(FlotillaError):
    code = "INVALID_ARGUMENT"
    http_status = 422


class FieldImmutable(InvalidArgument):
    code = "FIELD_IMMUTABLE"


class UnknownCloudProvider(InvalidArgument):
    code = "UNKNOWN_CLOUD_PROVIDER"


class UnknownRegion(InvalidArgument):
    code = "UNKNOWN_REGION"


class UnknownInstanceType(InvalidArgument):
    code = "UNKNOWN_INSTANCE_TYPE"


class CapacityTypeNotAllowed(InvalidArgument):
    code = "CAPACITY_TYPE_NOT_ALLOWED"


class ModelDoesNotFit(InvalidArgument):
    code = "MODEL_DOES_NOT_FIT"


class PackageInvalid(InvalidArgument):
    code = "PACKAGE_INVALID"


class PackageTooLarge(FlotillaError):
    code = "PACKAGE_TOO_LARGE"
    http_status = 413


class TokenNotUsable(InvalidArgument):
    """A cluster was asked to act with a token that is revoked, expired or lacks write scope."""

    code = "TOKEN_NOT_USABLE"


# 404: absent, or belongs to someone else (never 403 for another user's object)
class NotFound(FlotillaError):
    code = "NOT_FOUND"
    http_status = 404


class RouteNotFound(NotFound):
    code = "ROUTE_NOT_FOUND"


class UserNotFound(NotFound):
    code = "USER_NOT_FOUND"


class TokenNotFound(NotFound):
    code = "TOKEN_NOT_FOUND"


class CloudProviderNotFound(NotFound):
    code = "CLOUD_PROVIDER_NOT_FOUND"


class InstanceTypeNotFound(NotFound):
    code = "INSTANCE_TYPE_NOT_FOUND"


class ClusterNotFound(NotFound):
    code = "CLUSTER_NOT_FOUND"


class NodepoolNotFound(NotFound):
    code = "NODEPOOL_NOT_FOUND"


class NodeNotFound(NotFound):
    code = "NODE_NOT_FOUND"


class ModelNotFound(NotFound):
    code = "MODEL_NOT_FOUND"


class ModelVersionNotFound(NotFound):
    code = "MODEL_VERSION_NOT_FOUND"


class DeploymentNotFound(NotFound):
    code = "DEPLOYMENT_NOT_FOUND"


class MethodNotAllowed(FlotillaError):
    code = "METHOD_NOT_ALLOWED"
    http_status = 405


# 409: conflicts with what exists
class Conflict(FlotillaError):
    code = "CONFLICT"
    http_status = 409


class AlreadyExists(Conflict):
    code = "ALREADY_EXISTS"


class UserAlreadyExists(AlreadyExists):
    code = "USER_ALREADY_EXISTS"


class TokenAlreadyExists(AlreadyExists):
    code = "TOKEN_ALREADY_EXISTS"


class ClusterAlreadyExists(AlreadyExists):
    code = "CLUSTER_ALREADY_EXISTS"


class NodepoolAlreadyExists(AlreadyExists):
    code = "NODEPOOL_ALREADY_EXISTS"


class ModelAlreadyExists(AlreadyExists):
    code = "MODEL_ALREADY_EXISTS"


class DeploymentAlreadyExists(AlreadyExists):
    code = "DEPLOYMENT_ALREADY_EXISTS"


class ClusterHasDeployments(Conflict):
    code = "CLUSTER_HAS_DEPLOYMENTS"


class NodepoolInUse(Conflict):
    code = "NODEPOOL_IN_USE"


class ModelInUse(Conflict):
    code = "MODEL_IN_USE"


class ModelHasNoVersions(Conflict):
    code = "MODEL_HAS_NO_VERSIONS"


class ObjectDeleting(Conflict):
    """The object is being deleted; it can be read, not changed."""

    code = "OBJECT_DELETING"


# 409 / 5xx: what only the data plane (the gateway) answers
class DeploymentDisabled(FlotillaError):
    code = "DEPLOYMENT_DISABLED"
    http_status = 409


class ComputeStopped(FlotillaError):
    """Every nodepool of the deployment is on a cluster whose token is revoked."""

    code = "COMPUTE_STOPPED"
    http_status = 503


class NoReplicaReady(FlotillaError):
    """The request waited the hold timeout and no replica became ready."""

    code = "NO_REPLICA_READY"
    http_status = 503


class QueueFull(FlotillaError):
    """Too many requests are already waiting for a replica of this deployment."""

    code = "QUEUE_FULL"
    http_status = 503


class ReplicaUnreachable(FlotillaError):
    """No replica could be reached within the retry budget, or one failed mid-answer."""

    code = "REPLICA_UNREACHABLE"
    http_status = 502


class ReplicaTimeout(FlotillaError):
    code = "REPLICA_TIMEOUT"
    http_status = 504


class ControlPlaneUnavailable(FlotillaError):
    """The gateway cannot check a token or has no routes yet: the server does not answer."""

    code = "CONTROL_PLANE_UNAVAILABLE"
    http_status = 503


def _all_subclasses(cls: type[FlotillaError]) -> list[type[FlotillaError]]:
    found: list[type[FlotillaError]] = []
    subclasses: list[type[FlotillaError]] = cls.__subclasses__()
    for sub in subclasses:
        found.append(sub)
        found.extend(_all_subclasses(sub))
    return found


_ALL: list[type[FlotillaError]] = [FlotillaError, *_all_subclasses(FlotillaError)]
ERRORS_BY_CODE: dict[str, type[FlotillaError]] = {cls.code: cls for cls in _ALL}
ERRORS_BY_CODE["INTERNAL"] = InternalError


def error_from_code(code: str, message: str, fields: dict[str, str] | None = None) -> FlotillaError:
    """The exception class for ``code`` (``FlotillaError`` for a code this version does not know)."""
    cls = ERRORS_BY_CODE.get(code, FlotillaError)
    return cls(message, fields=fields)
