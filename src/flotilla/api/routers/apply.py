"""/v1/apply: create or update what YAML or JSON documents describe"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from flotilla.api.deps import Auth, Ctx, json
from flotilla.api.errors import ERROR_RESPONSES
from flotilla.domain.errors import MalformedRequest, UnsupportedMediaType
from flotilla.domain.states import Scope
from flotilla.services import apply as apply_service
from flotilla.services.apply import ApplyResponse

router = APIRouter(prefix="/v1", tags=["apply"], responses=ERROR_RESPONSES)
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain")
JSON_TYPES = ("application/json",)
EXAMPLE = """compute_cluster:
  id: gpu-east
  cloud_provider: aws
  region: us-east-1
---
nodepool:
  id: a10-pool
  compute_cluster: gpu-east
  instance_types: [g5.xlarge]
  capacity_types: [spot, on_demand]
  min_instances: 0
  max_instances: 4
"""


@router.post(
    "/apply",
    response_model=ApplyResponse,
    summary="Apply config documents",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/yaml": {"schema": {"type": "string"}, "example": EXAMPLE},
                "application/json": {
                    "schema": {
                        "oneOf": [
                            {"type": "object"},
                            {"type": "array", "items": {"type": "object"}},
                        ]
                    }
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
