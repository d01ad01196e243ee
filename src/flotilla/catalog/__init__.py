"""Shipped instance-type data per provider, and the filters users list it with.

The YAML files next to this module are the source; the server copies them into the database
at start (``services.catalog``) so that queries and reports can join on them.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from flotilla.domain.quantities import Cpu, Memory, parse_cpu, parse_memory
from flotilla.domain.resources import CloudProvider, ComputeInfo, InstanceType, PricePerHour, Region
from flotilla.domain.states import CapacityType

# What a node keeps for itself (agent, OS): a fixed part plus a share, as kubelets reserve.
CPU_RESERVED_MILLI = 100
CPU_RESERVED_SHARE = 0.02
MEMORY_RESERVED_BYTES = 256 * 2**20
MEMORY_RESERVED_SHARE = 0.05


def allocatable(cpu_milli: int, memory_bytes: int) -> tuple[int, int]:
    """CPU (millicores) and memory (bytes) left for replicas on a node of this shape."""
    cpu = cpu_milli - CPU_RESERVED_MILLI - int(cpu_milli * CPU_RESERVED_SHARE)
    memory = memory_bytes - MEMORY_RESERVED_BYTES - int(memory_bytes * MEMORY_RESERVED_SHARE)
    cpu, memory = cpu // 10 * 10, memory // 2**20 * 2**20  # round down to readable units
    return max(cpu, 0), max(memory, 0)


@dataclass(frozen=True)
class Catalog:
    providers: list[CloudProvider]
    instance_types: list[InstanceType]
    _index: dict[tuple[str, str, str], InstanceType] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for it in self.instance_types:
            self._index[(it.cloud_provider, it.region, it.id)] = it

    @property
    def digest(self) -> str:
        """Changes whenever any provider, region or instance type does."""
        payload = json.dumps(
            [p.model_dump(mode="json") for p in self.providers]
            + [it.model_dump(mode="json") for it in self.instance_types],
            sort_keys=True,
        )
        return "sha256:" + hashlib.sha256(payload.encode()).hexdigest()

    def provider(self, provider_id: str) -> CloudProvider | None:

        return next((p for p in self.providers if p.id == provider_id), None)

    def instance_type(self, provider: str, region: str, type_id: str) -> InstanceType | None:
        return self._index.get((provider, region, type_id))


def _instance_types(doc: dict[str, Any]) -> list[InstanceType]:
    found = []
    for entry in doc.get("instance_types") or []:
        cpu, memory = parse_cpu(entry["cpu"]), parse_memory(entry["memory"])
        alloc_cpu, alloc_memory = allocatable(cpu, memory)
        accel_memory = entry.get("accelerator_memory")
        info = ComputeInfo(
            cpu=entry["cpu"],
            memory=entry["memory"],
            accelerators=entry.get("accelerators", 0),
            accelerator_type=entry.get("accelerator_type"),
            accelerator_memory=accel_memory,
        )
        for region in entry["regions"]:
            price = {
                **entry["price_per_hour"],
                **(entry.get("regional_prices") or {}).get(region, {}),
            }
            allowed = [CapacityType.ON_DEMAND]
            if price.get("spot") is not None:
                allowed.insert(0, CapacityType.SPOT)
            found.append(
                InstanceType(
                    id=entry["id"],
                    cloud_provider=doc["provider"],
                    region=region,
                    compute_info=info,
                    architecture=entry.get("architecture", "x86_64"),
                    price_per_hour=PricePerHour(
                        on_demand=price["on_demand"], spot=price.get("spot")
                    ),
                    allowed_capacity_types=allowed,
                    allocatable=info.model_copy(
                        update={"cpu": alloc_cpu, "memory": alloc_memory}
                    ),  # ints
                    launch_seconds=entry.get("launch_seconds"),
                )
            )
    return found


@cache
def shipped_catalog() -> Catalog:
    """The catalog in the YAML files shipped with this version of Flotilla."""
    providers: list[CloudProvider] = []
    types: list[InstanceType] = []
    folder = resources.files("flotilla") / "catalog"
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if not path.name.endswith(".yaml"):
            continue
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        providers.append(
            CloudProvider(
                id=doc["provider"],
                display_name=doc["display_name"],
                source=" ".join(str(doc.get("source", "")).split()),
                regions=[Region(**region) for region in doc["regions"]],
            )
        )
        types.extend(_instance_types(doc))
    return Catalog(providers=providers, instance_types=types)


class InstanceTypeFilter(BaseModel):
    """How users narrow the catalog: ``flotilla instance-types --gpu --min-gpus 2``."""

    model_config = ConfigDict(extra="forbid")

    cloud_provider: str | None = None
    region: str | None = None
    gpu: bool | None = Field(
        None, description="true: only types with accelerators; false: only without."
    )
    min_gpus: int | None = Field(None, ge=0)
    min_gpu_memory: Memory | None = Field(None, description="Per accelerator, e.g. '24Gi'.")
    accelerator_type: str | None = Field(
        None, max_length=64, description="Case-insensitive, with wildcards: 'NVIDIA-*', '*A100*'."
    )
    min_cpu: Cpu | None = None
    min_memory: Memory | None = None
    max_price: float | None = Field(None, ge=0, description="USD per hour, for capacity_type.")
    capacity_type: CapacityType | None = Field(
        None, description="Price to compare with max_price, and require that this capacity exists."
    )

    def matches(self, it: InstanceType) -> bool:
        info = it.compute_info
        checks = [
            self.cloud_provider is None or it.cloud_provider == self.cloud_provider,
            self.region is None or it.region == self.region,
            self.gpu is None or (info.accelerators > 0) == self.gpu,
            self.min_gpus is None or info.accelerators >= self.min_gpus,
            self.min_gpu_memory is None or (info.accelerator_memory or 0) >= self.min_gpu_memory,
            self.accelerator_type is None
            or (  # a type without accelerators matches no accelerator pattern, not even '*'
                info.accelerator_type is not None
                and fnmatch.fnmatch(info.accelerator_type.lower(), self.accelerator_type.lower())
            ),
            self.min_cpu is None or info.cpu >= self.min_cpu,
            self.min_memory is None or info.memory >= self.min_memory,
            self.capacity_type is None or self.capacity_type in it.allowed_capacity_types,
        ]
        if not all(checks):
            return False
        if self.max_price is not None:
            price = self.price(it)
            return price is not None and price <= self.max_price
        return True

    def price(self, it: InstanceType) -> float | None:
        if self.capacity_type == CapacityType.SPOT:
            return it.price_per_hour.spot
        return it.price_per_hour.on_demand


def filter_instance_types(types: list[InstanceType], flt: InstanceTypeFilter) -> list[InstanceType]:
    """Matching types, cheapest first (by the filter's capacity type), then by id."""
    found = [it for it in types if flt.matches(it)]
    return sorted(found, key=lambda it: (flt.price(it) or 0.0, it.cloud_provider, it.region, it.id))
