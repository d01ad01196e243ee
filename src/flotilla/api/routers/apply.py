"""/v1/apply: create or update what YAML or JSON documents describe"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import TypeAdapter
from starlette.responses import Response

from flotilla.api.deps import Auth, Ctx, json
from flotilla.api.errors import ERROR_RESPONSES
from flotilla.domain.errors import MalformedRequest, UnsupportedMediaType
from flotilla.domain.states import Scope
from flotilla.services import apply as apply_service
from flotilla.services.apply import ApplyResponse
from flotilla.services.documents import MAX_DOCUMENTS, ConfigDocument

router = APIRouter(prefix="/v1", tags=["apply"], responses=ERROR_RESPONSES)
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain")
JSON_TYPES = ("application/json",)
EXAMPLE = [
    {"compute_cluster": {"id": "gpu-east", "cloud_provider": "aws", "region": "us-east-1"}},
    {
        "nodepool": {
            "id": "a10-pool",
            "compute_cluster": "gpu-east",
            "instance_types": ["g5.xlarge"],
            "capacity_types": ["spot", "on_demand"],
            "max_instances": 4,
        }
    },
]


def _inline(schema: Any, defs: dict[str, Any]) -> Any:
    """``schema`` with its ``#/$defs/…`` references replaced by what they name: OpenAPI would
    resolve them against its own document, where those definitions do not live."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            return _inline(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
        return {k: _inline(v, defs) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inline(item, defs) for item in schema]
    return schema


def _document_schema() -> dict[str, Any]:
    schema = TypeAdapter(ConfigDocument).json_schema()
    inlined: dict[str, Any] = _inline(schema, schema.get("$defs", {}))
    return inlined


DOCUMENT = _document_schema()
DOCUMENTS = {"type": "array", "items": DOCUMENT, "minItems": 1, "maxItems": MAX_DOCUMENTS}


@router.post(
    "/apply",
    response_model=ApplyResponse,
    summary="Apply config documents",
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "YAML: one document, or several separated by `---`. "
            "JSON: one document, or a list of them.",
            "content": {
                "application/yaml": {"schema": DOCUMENT, "example": EXAMPLE[0]},
                "application/json": {
                    "schema": {"anyOf": [DOCUMENT, DOCUMENTS]},
                    "example": EXAMPLE,
                },
            },
        }
    },
)
async def apply(
    ctx: Ctx,
    caller: Auth,
    request: Request,
    dry_run: Annotated[bool, Query(description="Validate and report, change nothing.")] = False,
) -> Response:
    """Multi-document YAML (or JSON: one object or a list); each document is one of
    `compute_cluster:`, `nodepool:`, `deployment:`, in Flotilla's or Clarifai's format. Creates
    what is missing, updates what differs, in one transaction: all documents apply, or none."""
    caller.require(Scope.WRITE)
    content_type = (
        request.headers.get("content-type", "application/yaml").split(";")[0].strip().lower()
    )
    if content_type not in YAML_TYPES + JSON_TYPES:
        raise UnsupportedMediaType("send application/yaml or application/json")
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedRequest("the body is not UTF-8 text") from None
    return json(
        await apply_service.apply(ctx, caller, text, content_type=content_type, dry_run=dry_run)
    )
