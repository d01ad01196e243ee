"""User-visible statuses, each derived in one function from recorded facts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from flotilla.domain.states import ClusterStatus, ClusterType, NodepoolStatus, TokenStatus

TOKEN_REVOKED = "TOKEN_REVOKED"


@dataclass(frozen=True)
class TokenFacts:
    revoked_at: datetime | None
    expires_at: datetime | None


def token_status(token: TokenFacts, now: datetime) -> TokenStatus:
    if token.revoked_at is not None:
        return TokenStatus.REVOKED
    if token.expires_at is not None and token.expires_at <= now:
        return TokenStatus.EXPIRED
    return TokenStatus.ACTIVE


def cluster_token_problem(
    cluster_type: ClusterType, token: TokenFacts | None, now: datetime
) -> str | None:
    """Why a cluster cannot act, or None. The shared cluster acts for the system, not a token."""
    if cluster_type == ClusterType.SHARED:
        return None
    if token is None:
        return (
            "the cluster's Personal Access Token was deleted; bind a valid token (PATCH token_id)"
        )
    status = token_status(token, now)
    if status == TokenStatus.REVOKED:
        return (
            "the cluster's Personal Access Token was revoked; bind a valid token (PATCH token_id)"
        )
    if status == TokenStatus.EXPIRED:
        return "the cluster's Personal Access Token expired; bind a valid token (PATCH token_id)"
    return None


@dataclass(frozen=True)
class ClusterFacts:
    deleting: bool
    token_problem: str | None


def cluster_status(facts: ClusterFacts) -> tuple[ClusterStatus, str | None]:
    if facts.deleting:
        return ClusterStatus.DELETING, None
    if facts.token_problem:
        return ClusterStatus.ERROR, f"{TOKEN_REVOKED}: {facts.token_problem}"
    return ClusterStatus.ACTIVE, None


@dataclass(frozen=True)
class NodepoolFacts:
    deleting: bool
    token_problem: str | None
    min_instances: int
    nodes_ready: int = 0
    nodes_launching: int = 0
    nodes_draining: int = 0
    replicas_unplaced: int = 0
    error_reason: str | None = None
    """Last reconcile failure the controller recorded (e.g. ``NO_CAPACITY``), cleared on success."""
    error_message: str | None = None


def nodepool_status(facts: NodepoolFacts) -> tuple[NodepoolStatus, str | None]:
    """The nodepool's status and a reason (``CODE: explanation``) when it is not plainly ready."""
    if facts.deleting:
        return NodepoolStatus.DELETING, None
    if facts.token_problem:
        return NodepoolStatus.ERROR, f"{TOKEN_REVOKED}: {facts.token_problem}"
    if facts.error_reason:
        return NodepoolStatus.ERROR, f"{facts.error_reason}: {facts.error_message or ''}".rstrip(
            ": "
        )
    if facts.nodes_launching or facts.nodes_draining:
        return NodepoolStatus.SCALING, None
    if facts.nodes_ready < facts.min_instances:
        missing = facts.min_instances - facts.nodes_ready
        return (
            NodepoolStatus.PENDING,
            f"WAITING_FOR_NODES: {missing} of min_instances not running yet",
        )
    if facts.replicas_unplaced:
        return NodepoolStatus.SCALING, None
    return NodepoolStatus.READY, None


def deployment_reason(
    recorded: str | None, pool_problems: Sequence[tuple[str, str | None]]
) -> str | None:
    """Why a deployment is not plainly serving: ``TOKEN_REVOKED`` naming each nodepool
    ("cluster/nodepool") whose cluster cannot act, else what the controllers recorded."""
    stopped = [f"{where}: {problem}" for where, problem in pool_problems if problem]
    if stopped:
        return f"{TOKEN_REVOKED}: " + "; ".join(stopped)
    return recorded
