"""Every API call the SDK makes, as data: method, path, parameters, body, and how to read the
answer. ``Client`` and ``AsyncClient`` carry the same calls out, one blocking, one awaiting."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from flotilla.client.http import Call
from flotilla.client.types import (
    ApplyResponse,
    CloudProvider,
    ComputeCluster,
    DeleteAccepted,
    Deployment,
    Event,
    InstanceType,
    LogLines,
    Model,
    ModelVersion,
    Node,
    Nodepool,
    Page,
    Replica,
    Token,
    TokenWithSecret,
    Usage,
    User,
    UserCreated,
)
from flotilla.domain.states import DeploymentStatus

M = TypeVar("M", bound=BaseModel)
PREDICT_TIMEOUT = 300.0
"""A request to a deployment at zero replicas waits while one starts."""
UPLOAD_TIMEOUT = 600.0


def one(cls: type[M]) -> Callable[[httpx.Response], M]:
    def parse(response: httpx.Response) -> M:
        return cls.model_validate_json(response.content)

    return parse


def page(cls: type[M]) -> Callable[[httpx.Response], Page[M]]:
    def parse(response: httpx.Response) -> Page[M]:
        return Page[cls].model_validate_json(response.content)  # type: ignore[valid-type]

    return parse


def deployment_of(data: dict[str, Any]) -> Deployment:
    """A deployment answered by the server. Its status may be ``deleting``, which
    ``DeploymentSpec`` refuses in what users send: it is checked as ``enabled``, then set."""
    if data.get("status") != DeploymentStatus.DELETING:
        return Deployment.model_validate(data)
    checked = Deployment.model_validate({**data, "status": DeploymentStatus.ENABLED})
    return checked.model_copy(update={"status": DeploymentStatus.DELETING})


def one_deployment(response: httpx.Response) -> Deployment:
    return deployment_of(response.json())


def deployment_page(response: httpx.Response) -> Page[Deployment]:
    data = response.json()
    items = [deployment_of(item) for item in data.pop("items")]
    return Page[Deployment](items=items, **data)


def nothing(_: httpx.Response) -> None:
    return None


def segment(value: str) -> str:
    return quote(str(value), safe="")


def body(fields: Mapping[str, Any]) -> Any:
    """Fields as JSON: models, enums and quantities given as objects become plain values."""
    return to_jsonable_python(dict(fields), by_alias=True, exclude_none=False)


def query(**params: Any) -> dict[str, Any]:
    """Query parameters without the unset ones; times in ISO 8601 (UTC when they name no zone),
    booleans as true/false."""
    found: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, datetime):  # a time without a zone is taken as UTC
            value = (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
        elif isinstance(value, bool):
            value = "true" if value else "false"
        found[key] = value
    return found


def paged(per_page: int | None, number: int) -> dict[str, Any]:
    return query(page=number, per_page=per_page)


# compute clusters
def create_cluster(fields: Mapping[str, Any]) -> Call[ComputeCluster]:
    return Call("POST", "/v1/compute_clusters", one(ComputeCluster), json=body(fields))


def get_cluster(cluster: str) -> Call[ComputeCluster]:
    return Call("GET", f"/v1/compute_clusters/{segment(cluster)}", one(ComputeCluster))


def list_clusters(number: int, per_page: int | None = None) -> Call[Page[ComputeCluster]]:
    return Call("GET", "/v1/compute_clusters", page(ComputeCluster), params=paged(per_page, number))


def update_cluster(cluster: str, changes: Mapping[str, Any]) -> Call[ComputeCluster]:
    path = f"/v1/compute_clusters/{segment(cluster)}"
    return Call("PATCH", path, one(ComputeCluster), json=body(changes))


def delete_cluster(cluster: str, cascade: bool) -> Call[DeleteAccepted]:
    path = f"/v1/compute_clusters/{segment(cluster)}"
    return Call("DELETE", path, one(DeleteAccepted), params=query(cascade=cascade or None))


# nodepools
def _pools(cluster: str) -> str:
    return f"/v1/compute_clusters/{segment(cluster)}/nodepools"


def create_nodepool(cluster: str, fields: Mapping[str, Any]) -> Call[Nodepool]:
    return Call("POST", _pools(cluster), one(Nodepool), json=body(fields))


def get_nodepool(cluster: str, nodepool: str) -> Call[Nodepool]:
    return Call("GET", f"{_pools(cluster)}/{segment(nodepool)}", one(Nodepool))


def list_nodepools(cluster: str, number: int, per_page: int | None) -> Call[Page[Nodepool]]:
    return Call("GET", _pools(cluster), page(Nodepool), params=paged(per_page, number))


def update_nodepool(cluster: str, nodepool: str, changes: Mapping[str, Any]) -> Call[Nodepool]:
    path = f"{_pools(cluster)}/{segment(nodepool)}"
    return Call("PATCH", path, one(Nodepool), json=body(changes))


def delete_nodepool(cluster: str, nodepool: str, cascade: bool) -> Call[DeleteAccepted]:
    path = f"{_pools(cluster)}/{segment(nodepool)}"
    return Call("DELETE", path, one(DeleteAccepted), params=query(cascade=cascade or None))


def list_nodes(
    cluster: str, nodepool: str, state: str | None, number: int, per_page: int | None
) -> Call[Page[Node]]:
    path = f"{_pools(cluster)}/{segment(nodepool)}/nodes"
    params = {**paged(per_page, number), **query(state=state)}
    return Call("GET", path, page(Node), params=params)


def get_node(cluster: str, nodepool: str, node: str) -> Call[Node]:
    path = f"{_pools(cluster)}/{segment(nodepool)}/nodes/{segment(node)}"
    return Call("GET", path, one(Node))


# deployments
def _deployment(deployment: str) -> str:
    return f"/v1/deployments/{segment(deployment)}"


def create_deployment(fields: Mapping[str, Any]) -> Call[Deployment]:
    return Call("POST", "/v1/deployments", one_deployment, json=body(fields))


def get_deployment(deployment: str) -> Call[Deployment]:
    return Call("GET", _deployment(deployment), one_deployment)


def list_deployments(
    number: int,
    per_page: int | None,
    compute_cluster: str | None = None,
    nodepool: str | None = None,
    model: str | None = None,
) -> Call[Page[Deployment]]:
    params = {
        **paged(per_page, number),
        **query(compute_cluster=compute_cluster, nodepool=nodepool, model=model),
    }
    return Call("GET", "/v1/deployments", deployment_page, params=params)


def update_deployment(deployment: str, changes: Mapping[str, Any]) -> Call[Deployment]:
    return Call("PATCH", _deployment(deployment), one_deployment, json=body(changes))


def delete_deployment(deployment: str) -> Call[DeleteAccepted]:
    return Call("DELETE", _deployment(deployment), one(DeleteAccepted))


def list_replicas(deployment: str, number: int, per_page: int | None) -> Call[Page[Replica]]:
    path = f"{_deployment(deployment)}/replicas"
    return Call("GET", path, page(Replica), params=paged(per_page, number))


def read_logs(deployment: str, since: datetime | None, limit: int | None) -> Call[LogLines]:
    params = query(since=since, limit=limit)
    return Call("GET", f"{_deployment(deployment)}/logs", one(LogLines), params=params)


def follow_logs(deployment: str, since: datetime | None, limit: int | None) -> Call[None]:
    """Streamed: the answer is NDJSON, read line by line (blank lines are keep-alives)."""
    params = query(since=since, limit=limit, follow=True)
    return Call("GET", f"{_deployment(deployment)}/logs", nothing, params=params, timeout=60.0)


def predict(deployment: str, inputs: Any, timeout: float | None) -> Call[Any]:
    """Not retried: a model's predict may do something each time it runs (the gateway retries
    a replica that was not reached itself)."""
    return Call(
        "POST",
        f"/v1/deployments/{segment(deployment)}/predict",
        lambda response: response.json(),
        json={"inputs": to_jsonable_python(inputs)},
        to="gateway",
        timeout=timeout or PREDICT_TIMEOUT,
        idempotent=False,
    )


# models
def _model(model: str) -> str:
    return f"/v1/models/{segment(model)}"


def create_model(fields: Mapping[str, Any]) -> Call[Model]:
    return Call("POST", "/v1/models", one(Model), json=body(fields))


def get_model(model: str) -> Call[Model]:
    return Call("GET", _model(model), one(Model))


def list_models(number: int, per_page: int | None) -> Call[Page[Model]]:
    return Call("GET", "/v1/models", page(Model), params=paged(per_page, number))


def update_model(model: str, changes: Mapping[str, Any]) -> Call[Model]:
    return Call("PATCH", _model(model), one(Model), json=body(changes))


def delete_model(model: str) -> Call[None]:
    return Call("DELETE", _model(model), nothing)


def upload_version(model: str, archive: bytes, description: str | None) -> Call[ModelVersion]:
    """Content-addressed: the same files make the same version, so a retry is harmless."""
    return Call(
        "POST",
        f"{_model(model)}/versions",
        one(ModelVersion),
        params=query(description=description),
        content=archive,
        headers={"Content-Type": "application/gzip"},
        timeout=UPLOAD_TIMEOUT,
        idempotent=True,
    )


def list_versions(model: str, number: int, per_page: int | None) -> Call[Page[ModelVersion]]:
    path = f"{_model(model)}/versions"
    return Call("GET", path, page(ModelVersion), params=paged(per_page, number))


def get_version(model: str, version: str) -> Call[ModelVersion]:
    return Call("GET", f"{_model(model)}/versions/{segment(version)}", one(ModelVersion))


# catalog
def list_instance_types(
    filters: Mapping[str, Any], number: int, per_page: int | None
) -> Call[Page[InstanceType]]:
    params = {**paged(per_page, number), **query(**filters)}
    return Call("GET", "/v1/instance_types", page(InstanceType), params=params)


def get_instance_type(provider: str, region: str, instance_type: str) -> Call[InstanceType]:
    path = (
        f"/v1/cloud_providers/{segment(provider)}/regions/{segment(region)}"
        f"/instance_types/{segment(instance_type)}"
    )
    return Call("GET", path, one(InstanceType))


def list_cloud_providers(number: int, per_page: int | None) -> Call[Page[CloudProvider]]:
    return Call("GET", "/v1/cloud_providers", page(CloudProvider), params=paged(per_page, number))


def get_cloud_provider(provider: str) -> Call[CloudProvider]:
    return Call("GET", f"/v1/cloud_providers/{segment(provider)}", one(CloudProvider))


# tokens and users
def create_token(fields: Mapping[str, Any]) -> Call[TokenWithSecret]:
    return Call("POST", "/v1/tokens", one(TokenWithSecret), json=body(fields))


def get_token(token: str) -> Call[Token]:
    return Call("GET", f"/v1/tokens/{segment(token)}", one(Token))


def list_tokens(number: int, per_page: int | None) -> Call[Page[Token]]:
    return Call("GET", "/v1/tokens", page(Token), params=paged(per_page, number))


def update_token(token: str, changes: Mapping[str, Any]) -> Call[Token]:
    return Call("PATCH", f"/v1/tokens/{segment(token)}", one(Token), json=body(changes))


def revoke_token(token: str) -> Call[Token]:
    path = f"/v1/tokens/{segment(token)}/revoke"
    return Call("POST", path, one(Token), idempotent=True)


def delete_token(token: str) -> Call[None]:
    return Call("DELETE", f"/v1/tokens/{segment(token)}", nothing)


def create_user(fields: Mapping[str, Any]) -> Call[UserCreated]:
    return Call("POST", "/v1/users", one(UserCreated), json=body(fields))


def get_user(user: str) -> Call[User]:
    return Call("GET", f"/v1/users/{segment(user)}", one(User))


def list_users(number: int, per_page: int | None) -> Call[Page[User]]:
    return Call("GET", "/v1/users", page(User), params=paged(per_page, number))


def update_user(user: str, changes: Mapping[str, Any]) -> Call[User]:
    return Call("PATCH", f"/v1/users/{segment(user)}", one(User), json=body(changes))


def delete_user(user: str) -> Call[None]:
    return Call("DELETE", f"/v1/users/{segment(user)}", nothing)


# events, usage, apply
def list_events(
    filters: Mapping[str, Any], number: int, per_page: int | None, after_id: int | None = None
) -> Call[Page[Event]]:
    params = {**paged(per_page, number), **query(after_id=after_id, **filters)}
    return Call("GET", "/v1/events", page(Event), params=params)


def usage(group_by: str, since: datetime | None, until: datetime | None) -> Call[Usage]:
    params = query(group_by=group_by, since=since, until=until)
    return Call("GET", "/v1/usage", one(Usage), params=params)


def apply(text: str, content_type: str, dry_run: bool) -> Call[ApplyResponse]:
    """Applying the same documents twice changes nothing: a retry is harmless."""
    return Call(
        "POST",
        "/v1/apply",
        one(ApplyResponse),
        params=query(dry_run=dry_run or None),
        content=text.encode("utf-8"),
        headers={"Content-Type": content_type},
        idempotent=True,
    )
