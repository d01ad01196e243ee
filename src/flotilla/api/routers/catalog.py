"""/v1/cloud_providers and /v1/instance_types"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from starlette.responses import Response

from flotilla.api.deps import Auth, Ctx, Paging, json
from flotilla.api.errors import ERROR_RESPONSES
from flotilla.catalog import InstanceTypeFilter
from flotilla.domain.errors import InvalidArgument
from flotilla.domain.quantities import parse_memory
from flotilla.domain.resources import CloudProvider, InstanceType, Page
from flotilla.domain.states import CapacityType
from flotilla.services import catalog

router = APIRouter(prefix="/v1", tags=["catalog"], responses=ERROR_RESPONSES)
# Whole numbers up to 999999 of a unit up to Ti: every such quantity parses, and fits.
GPU_MEMORY_PATTERN = r"^[0-9]{1,6}([KMGT]i?|k)?$"


@router.get("/cloud_providers", response_model=Page[CloudProvider], summary="List cloud providers")
async def list_providers(ctx: Ctx, _: Auth, paging: Paging) -> Response:
    """Providers and their regions, with where the catalog's prices come from."""
    items = catalog.list_providers(ctx.catalog)
    start = paging.offset
    page = Page[CloudProvider](
        items=items[start : start + paging.per_page],
        page=paging.page,
        per_page=paging.per_page,
        next_page=paging.page + 1 if len(items) > start + paging.per_page else None,
    )
    return json(page)


@router.get(
    "/cloud_providers/{provider_id}", response_model=CloudProvider, summary="Get a cloud provider"
)
async def get_provider(
    ctx: Ctx, _: Auth, provider_id: Annotated[str, Path(max_length=64)]
) -> Response:
    return json(catalog.get_provider(ctx.catalog, provider_id))


def _filter(
    cloud_provider: Annotated[str | None, Query(max_length=64)] = None,
    region: Annotated[str | None, Query(max_length=64)] = None,
    gpu: Annotated[
        bool | None, Query(description="true: with accelerators; false: CPU only")
    ] = None,
    min_gpus: Annotated[int | None, Query(ge=0, le=64)] = None,
    min_gpu_memory: Annotated[
        str | None,
        Query(
            pattern=GPU_MEMORY_PATTERN,
            description="Per accelerator: a whole number with an optional unit, e.g. 24Gi",
        ),
    ] = None,
    accelerator_type: Annotated[
        str | None, Query(max_length=64, description="Wildcards allowed: NVIDIA-*, *A100*")
    ] = None,
    max_price: Annotated[
        float | None, Query(ge=0, le=1_000_000, allow_inf_nan=False, description="USD per hour")
    ] = None,
    capacity_type: Annotated[CapacityType | None, Query()] = None,
) -> InstanceTypeFilter:
    memory = None
    if min_gpu_memory is not None:
        try:
            memory = parse_memory(min_gpu_memory)
        except ValueError as error:
            raise InvalidArgument(str(error), fields={"min_gpu_memory": str(error)}) from None
    return InstanceTypeFilter.model_construct(
        cloud_provider=cloud_provider,
        region=region,
        gpu=gpu,
        min_gpus=min_gpus,
        min_gpu_memory=memory,
        accelerator_type=accelerator_type,
        min_cpu=None,
        min_memory=None,
        max_price=max_price,
        capacity_type=capacity_type,
    )


@router.get("/instance_types", response_model=Page[InstanceType], summary="List instance types")
async def list_instance_types(
    ctx: Ctx, _: Auth, paging: Paging, flt: Annotated[InstanceTypeFilter, Depends(_filter)]
) -> Response:
    """Machine shapes per provider and region with CPU, memory, accelerators and price per hour,
    cheapest first. Filter by provider, region, GPU, accelerator type (wildcards), price."""
    return json(catalog.list_instance_types(ctx.catalog, flt, paging))


@router.get(
    "/cloud_providers/{provider_id}/regions/{region}/instance_types/{type_id}",
    response_model=InstanceType,
    summary="Get an instance type",
)
async def get_instance_type(
    ctx: Ctx,
    _: Auth,
    provider_id: Annotated[str, Path(max_length=64)],
    region: Annotated[str, Path(max_length=64)],
    type_id: Annotated[str, Path(max_length=64)],
) -> Response:
    return json(catalog.get_instance_type(ctx.catalog, provider_id, region, type_id))
