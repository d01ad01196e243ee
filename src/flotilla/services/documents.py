"""Config documents: one object per YAML document (``compute_cluster:``, ``nodepool:``,
``deployment:``), in Flotilla's own form or Clarifai's, turned into specs.

Clarifai's form is recognised field by field (``cloud_provider: {id: aws}``,
``node_capacity_type: {capacity_types: [1, 2]}``, ``worker: {model: …}``, numeric
``scheduling_choice``, ``visibility``) and translated; anything else unknown is rejected, named.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ConfigDict, ValidationError

from flotilla.domain.errors import InvalidArgument, MalformedRequest
from flotilla.domain.ids import ObjectId
from flotilla.domain.specs import ComputeClusterSpec, DeploymentSpec, NodepoolSpec, Spec
from flotilla.services.lookup import summary, validation_fields

KINDS: dict[str, type[Spec]] = {
    "compute_cluster": ComputeClusterSpec,
    "nodepool": NodepoolSpec,
    "deployment": DeploymentSpec,
}
ORDER = {kind: rank for rank, kind in enumerate(KINDS)}
MAX_DOCUMENTS = 500

# Clarifai's numeric enums.
CAPACITY_TYPES = {1: "on_demand", 2: "spot"}
SCHEDULING_CHOICES = {
    1: "priority",  # FAIL: Flotilla fails over by priority
    2: "random",
    3: "price",
    4: "priority",  # PERFORMANCE
    5: "priority",  # NETWORK
    6: "utilization",
    7: "prefer_spot",
    8: "prefer_on_demand",
}
DROPPED = ("visibility", "metadata", "user_id", "app_id")


class NodepoolInCluster(NodepoolSpec):
    """A nodepool document names the cluster it belongs to."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "a10-pool",
                    "compute_cluster": "gpu-east",
                    "instance_types": ["g5.xlarge"],
                    "capacity_types": ["spot", "on_demand"],
                    "max_instances": 4,
                }
            ]
        }
    )

    compute_cluster: ObjectId


class ComputeClusterDocument(Spec):
    compute_cluster: ComputeClusterSpec


class NodepoolDocument(Spec):
    nodepool: NodepoolInCluster


class DeploymentDocument(Spec):
    deployment: DeploymentSpec


ConfigDocument = ComputeClusterDocument | NodepoolDocument | DeploymentDocument
"""One document in Flotilla's form, for the API's schema (Clarifai's form is read too)."""


@dataclass(frozen=True)
class Document:
    index: int
    kind: str
    spec: Spec
    compute_cluster: str | None = None
    """For nodepools: the cluster they belong to."""
    set_fields: frozenset[str] = frozenset()


def _ref_id(value: Any) -> Any:
    """``{id: x}`` (Clarifai) or ``x`` (Flotilla) → ``x``."""
    if isinstance(value, dict) and "id" in value:
        return value["id"]
    return value


def _translate_cluster(body: dict[str, Any]) -> dict[str, Any]:
    if "cloud_provider" in body:
        body["cloud_provider"] = _ref_id(body["cloud_provider"])
    if body.get("managed_by") == "clarifai":
        body["managed_by"] = "flotilla"
    return body


def _translate_nodepool(body: dict[str, Any]) -> dict[str, Any]:
    if isinstance(body.get("instance_types"), list):
        body["instance_types"] = [_ref_id(item) for item in body["instance_types"]]
    node_capacity = body.pop("node_capacity_type", None)
    if node_capacity is not None:
        codes = node_capacity.get("capacity_types") if isinstance(node_capacity, dict) else None
        if not isinstance(codes, list) or any(c not in CAPACITY_TYPES for c in codes):
            raise ValueError(
                "node_capacity_type.capacity_types takes 1 (on-demand) and/or 2 (spot)"
            )
        # Clarifai: both listed means spot preferred, on-demand as fallback.
        body["capacity_types"] = sorted(
            {CAPACITY_TYPES[c] for c in codes}, key=["spot", "on_demand"].index
        )
    return body


def _translate_deployment(body: dict[str, Any]) -> dict[str, Any]:
    worker = body.pop("worker", None)
    if worker is not None:
        model = worker.get("model") if isinstance(worker, dict) else None
        if not isinstance(model, dict) or "id" not in model:
            raise ValueError("worker.model.id is required")
        body["model"] = model["id"]
        if isinstance(model.get("model_version"), dict) and "id" in model["model_version"]:
            body["model_version"] = model["model_version"]["id"]
    if isinstance(body.get("scheduling_choice"), int):
        code = body["scheduling_choice"]
        if code not in SCHEDULING_CHOICES:
            raise ValueError(f"scheduling_choice {code} is not one of Clarifai's 1–8")
        body["scheduling_choice"] = SCHEDULING_CHOICES[code]
    if body.pop("deploy_latest_version", False):
        body["model_version"] = "latest"
    if isinstance(body.get("nodepools"), list):
        body["nodepools"] = [_translate_nodepool_ref(ref) for ref in body["nodepools"]]
    return body


def _translate_nodepool_ref(ref: Any) -> Any:
    if isinstance(ref, dict) and "id" in ref and "nodepool" not in ref:
        ref = {k: v for k, v in ref.items() if k not in DROPPED}
        ref["nodepool"] = ref.pop("id")
        ref["compute_cluster"] = _ref_id(ref.get("compute_cluster"))
    return ref


TRANSLATE = {
    "compute_cluster": _translate_cluster,
    "nodepool": _translate_nodepool,
    "deployment": _translate_deployment,
}


def _document(index: int, raw: Any) -> Document:
    where = f"document {index + 1}"
    if not isinstance(raw, dict) or len(raw) != 1 or next(iter(raw)) not in KINDS:
        raise InvalidArgument(
            f"{where}: a document is one mapping with a single key, one of: {', '.join(KINDS)}",
            fields={f"documents.{index}": "expected compute_cluster:, nodepool: or deployment:"},
        )
    kind, body = next(iter(raw.items()))
    if not isinstance(body, dict):
        raise InvalidArgument(f"{where}: '{kind}' must be a mapping of fields")
    body = {k: v for k, v in body.items() if k not in DROPPED}
    compute_cluster = None
    try:
        body = TRANSLATE[kind](body)
        if kind == "nodepool":
            compute_cluster = _ref_id(body.pop("compute_cluster", None))
            if not isinstance(compute_cluster, str):
                raise ValueError("nodepool needs compute_cluster: the id of its cluster")
        spec = KINDS[kind].model_validate(body)
    except ValidationError as error:
        fields = validation_fields(error, prefix=f"documents.{index}.{kind}")
        name = body.get("id", "?")
        raise InvalidArgument(
            f"{where} ({kind} '{name}'): {summary(fields)}", fields=fields
        ) from None
    except (ValueError, TypeError, AttributeError) as error:
        raise InvalidArgument(
            f"{where} ({kind}): {error}", fields={f"documents.{index}": str(error)}
        ) from None
    return Document(
        index=index,
        kind=kind,
        spec=spec,
        compute_cluster=compute_cluster,
        set_fields=frozenset(body),
    )


def load_documents(text: str, content_type: str = "application/yaml") -> list[Document]:
    """Parse YAML (several documents, ``---`` between) or JSON (one object or a list)."""
    try:
        if "json" in content_type:
            loaded = json.loads(text)
            raw_docs = loaded if isinstance(loaded, list) else [loaded]
        else:
            raw_docs = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except (yaml.YAMLError, json.JSONDecodeError) as error:
        raise MalformedRequest(
            f"the body is not valid {'JSON' if 'json' in content_type else 'YAML'}: {error}"
        ) from None
    if not raw_docs:
        raise InvalidArgument(
            "no documents: give at least one compute_cluster:, nodepool: or deployment:"
        )
    if len(raw_docs) > MAX_DOCUMENTS:
        raise InvalidArgument(f"at most {MAX_DOCUMENTS} documents per apply")
    docs = [_document(index, raw) for index, raw in enumerate(raw_docs)]
    return sorted(docs, key=lambda d: (ORDER[d.kind], d.index))
