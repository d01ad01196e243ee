"""Statuses derived from recorded facts: tokens, clusters and nodepools."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flotilla.domain.states import ClusterStatus, ClusterType, NodepoolStatus, TokenStatus
from flotilla.domain.status import (
    ClusterFacts,
    NodepoolFacts,
    TokenFacts,
    cluster_status,
    cluster_token_problem,
    nodepool_status,
    token_status,
)

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
ACTIVE = TokenFacts(revoked_at=None, expires_at=None)
REVOKED = TokenFacts(revoked_at=NOW - SECOND, expires_at=None)
EXPIRED = TokenFacts(revoked_at=None, expires_at=NOW)

DELETED_MSG = "the cluster's Personal Access Token was deleted; bind a valid token (PATCH token_id)"
REVOKED_MSG = "the cluster's Personal Access Token was revoked; bind a valid token (PATCH token_id)"
EXPIRED_MSG = "the cluster's Personal Access Token expired; bind a valid token (PATCH token_id)"


# ---------------------------------------------------------------- tokens


def test_token_without_revocation_or_expiry_is_active() -> None:
    assert token_status(ACTIVE, NOW) == TokenStatus.ACTIVE


def test_token_is_active_until_one_instant_before_expiry() -> None:
    token = TokenFacts(revoked_at=None, expires_at=NOW + timedelta(microseconds=1))
    assert token_status(token, NOW) == TokenStatus.ACTIVE


def test_token_is_expired_at_the_exact_expiry_instant() -> None:
    assert token_status(TokenFacts(revoked_at=None, expires_at=NOW), NOW) == TokenStatus.EXPIRED


def test_token_is_expired_after_expiry() -> None:
    token = TokenFacts(revoked_at=None, expires_at=NOW - SECOND)
    assert token_status(token, NOW) == TokenStatus.EXPIRED


def test_revoked_token_is_revoked_even_when_also_expired() -> None:
    token = TokenFacts(revoked_at=NOW - SECOND, expires_at=NOW - SECOND)
    assert token_status(token, NOW) == TokenStatus.REVOKED


def test_revoked_token_with_a_future_expiry_is_revoked() -> None:
    token = TokenFacts(revoked_at=NOW, expires_at=NOW + timedelta(days=30))
    assert token_status(token, NOW) == TokenStatus.REVOKED


# ---------------------------------------------------------------- cluster token problems


@pytest.mark.parametrize("token", [None, ACTIVE, REVOKED, EXPIRED])
def test_shared_cluster_never_has_a_token_problem(token: TokenFacts | None) -> None:
    assert cluster_token_problem(ClusterType.SHARED, token, NOW) is None


@pytest.mark.parametrize("cluster_type", [ClusterType.DEDICATED, ClusterType.SELF_MANAGED])
def test_cluster_with_an_active_token_has_no_problem(cluster_type: ClusterType) -> None:
    assert cluster_token_problem(cluster_type, ACTIVE, NOW) is None


@pytest.mark.parametrize(
    ("token", "problem"), [(None, DELETED_MSG), (REVOKED, REVOKED_MSG), (EXPIRED, EXPIRED_MSG)]
)
def test_cluster_token_problem_explains_what_happened_and_the_fix(
    token: TokenFacts | None, problem: str
) -> None:
    assert cluster_token_problem(ClusterType.DEDICATED, token, NOW) == problem
    assert cluster_token_problem(ClusterType.SELF_MANAGED, token, NOW) == problem


def test_cluster_token_expiring_later_is_not_a_problem_yet() -> None:
    token = TokenFacts(revoked_at=None, expires_at=NOW + SECOND)
    assert cluster_token_problem(ClusterType.DEDICATED, token, NOW) is None
    assert cluster_token_problem(ClusterType.DEDICATED, token, NOW + SECOND) == EXPIRED_MSG


# ---------------------------------------------------------------- cluster status


def test_cluster_status_is_active_without_problems() -> None:
    assert cluster_status(ClusterFacts(deleting=False, token_problem=None)) == (
        ClusterStatus.ACTIVE,
        None,
    )


def test_cluster_with_a_token_problem_is_in_error_with_code_token_revoked() -> None:
    assert cluster_status(ClusterFacts(deleting=False, token_problem=REVOKED_MSG)) == (
        ClusterStatus.ERROR,
        f"TOKEN_REVOKED: {REVOKED_MSG}",
    )


def test_deleting_cluster_is_deleting_even_with_a_token_problem() -> None:
    assert cluster_status(ClusterFacts(deleting=True, token_problem=REVOKED_MSG)) == (
        ClusterStatus.DELETING,
        None,
    )


# ---------------------------------------------------------------- nodepool status


EVERYTHING_AT_ONCE = NodepoolFacts(
    deleting=True,
    token_problem=EXPIRED_MSG,
    min_instances=3,
    nodes_ready=1,
    nodes_launching=1,
    nodes_draining=1,
    replicas_unplaced=2,
    error_reason="NO_CAPACITY",
    error_message="no g5.xlarge in us-east-1",
)
"""A nodepool where every fact that could set a status is true; each test turns some off."""


def facts(**changes: Any) -> NodepoolFacts:
    return replace(EVERYTHING_AT_ONCE, **changes)


def test_deleting_nodepool_is_deleting_whatever_else_is_true() -> None:
    assert nodepool_status(facts()) == (NodepoolStatus.DELETING, None)


def test_token_problem_outranks_controller_error() -> None:
    assert nodepool_status(facts(deleting=False)) == (
        NodepoolStatus.ERROR,
        f"TOKEN_REVOKED: {EXPIRED_MSG}",
    )


def test_controller_error_outranks_scaling() -> None:
    assert nodepool_status(facts(deleting=False, token_problem=None)) == (
        NodepoolStatus.ERROR,
        "NO_CAPACITY: no g5.xlarge in us-east-1",
    )


def test_controller_error_without_message_is_just_its_code() -> None:
    status = nodepool_status(facts(deleting=False, token_problem=None, error_message=None))
    assert status == (NodepoolStatus.ERROR, "NO_CAPACITY")


@pytest.mark.parametrize(("launching", "draining"), [(1, 0), (0, 1), (2, 2)])
def test_launching_or_draining_nodes_outrank_pending_below_min(
    launching: int, draining: int
) -> None:
    status = nodepool_status(
        facts(
            deleting=False,
            token_problem=None,
            error_reason=None,
            nodes_launching=launching,
            nodes_draining=draining,
        )
    )
    assert status == (NodepoolStatus.SCALING, None)


def test_nodepool_below_min_instances_is_pending_with_the_count_missing() -> None:
    status = nodepool_status(
        facts(
            deleting=False,
            token_problem=None,
            error_reason=None,
            nodes_launching=0,
            nodes_draining=0,
        )
    )
    assert status == (
        NodepoolStatus.PENDING,
        "WAITING_FOR_NODES: 2 of min_instances not running yet",
    )


def test_nodepool_with_unplaced_replicas_and_min_met_is_scaling() -> None:
    status = nodepool_status(
        NodepoolFacts(False, None, min_instances=1, nodes_ready=1, replicas_unplaced=1)
    )
    assert status == (NodepoolStatus.SCALING, None)


def test_nodepool_with_min_met_and_nothing_in_flight_is_ready() -> None:
    status = nodepool_status(NodepoolFacts(False, None, min_instances=2, nodes_ready=2))
    assert status == (NodepoolStatus.READY, None)


def test_empty_nodepool_with_min_zero_is_ready() -> None:
    assert nodepool_status(NodepoolFacts(False, None, min_instances=0)) == (
        NodepoolStatus.READY,
        None,
    )


def test_nodepool_above_min_instances_is_ready() -> None:
    status = nodepool_status(NodepoolFacts(False, None, min_instances=1, nodes_ready=4))
    assert status == (NodepoolStatus.READY, None)
