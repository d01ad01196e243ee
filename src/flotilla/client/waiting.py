"""Waiting until an object is ready: what "ready" means for each, and how often to look.

Nodepool: status ``ready``. Deployment: at least one replica ``ready`` (so a deployment with
``min_replicas: 0`` becomes ready only once traffic has started a replica).
"""

from __future__ import annotations

from collections.abc import Iterator

from flotilla.client.types import Deployment, Nodepool
from flotilla.errors import ObjectDeleting

FIRST_POLL = 0.2
MAX_POLL = 2.0
DEFAULT_TIMEOUT = 600.0


def polls() -> Iterator[float]:
    """Seconds between looks: soon at first, then every couple of seconds."""
    delay = FIRST_POLL
    while True:
        yield delay
        delay = min(delay * 1.5, MAX_POLL)


def nodepool_ready(pool: Nodepool) -> bool:
    if pool.status == "deleting":
        raise ObjectDeleting(f"nodepool '{pool.compute_cluster}/{pool.id}' is being deleted")
    return pool.status == "ready"


def deployment_ready(deployment: Deployment) -> bool:
    if deployment.status == "deleting":
        raise ObjectDeleting(f"deployment '{deployment.id}' is being deleted")
    return deployment.replicas.get("ready", 0) >= 1


def describe_nodepool(pool: Nodepool) -> str:
    """One line on where it stands: ``scaling: 1/2 nodes ready (WAITING_FOR_NODES: …)``."""
    line = (
        f"{pool.status}: {pool.nodes.ready}/{max(pool.nodes.total, pool.min_instances)} nodes ready"
    )
    return f"{line} ({pool.status_reason})" if pool.status_reason else line


def describe_deployment(deployment: Deployment) -> str:
    counts = deployment.replicas
    ready = counts.get("ready", 0)
    others = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()) if state != "ready")
    line = f"{ready} replica{'s' if ready != 1 else ''} ready"
    if others:
        line += f", {others}"
    if deployment.status_reason:
        line += f" ({deployment.status_reason})"
    return line
