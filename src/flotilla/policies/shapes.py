"""Resource shapes and fitting: what a replica needs against what a node has free."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Shape:
    """CPU in millicores, memory in bytes, whole accelerators of a type (None: any/none)."""

    cpu: int
    memory: int
    accelerators: int = 0
    accelerator_type: str | None = None

    def fits_in(
        self, cpu: int, memory: int, accelerators: int, accelerator_type: str | None
    ) -> bool:
        if self.cpu > cpu or self.memory > memory or self.accelerators > accelerators:
            return False
        if self.accelerators and self.accelerator_type:
            return fnmatch.fnmatch((accelerator_type or "").lower(), self.accelerator_type.lower())
        return True

    def size_key(self) -> tuple[int, int, int]:
        """Biggest first for best-fit-decreasing: accelerators, then CPU, then memory."""
        return (self.accelerators, self.cpu, self.memory)


@dataclass(slots=True)
class Capacity:
    """Free room on a node; shrinks as replicas are placed during a pass."""

    cpu: int
    memory: int
    accelerators: int
    accelerator_type: str | None

    def fits(self, need: Shape) -> bool:
        return need.fits_in(self.cpu, self.memory, self.accelerators, self.accelerator_type)

    def take(self, need: Shape) -> None:
        self.cpu -= need.cpu
        self.memory -= need.memory
        self.accelerators -= need.accelerators

    def leftover_after(self, need: Shape, total: Capacity) -> float:
        """Largest fraction of the node left free after placing ``need`` (best fit: smallest)."""
        parts = [
            (self.cpu - need.cpu) / total.cpu if total.cpu else 0.0,
            (self.memory - need.memory) / total.memory if total.memory else 0.0,
        ]
        if total.accelerators:
            parts.append((self.accelerators - need.accelerators) / total.accelerators)
        return max(parts)

    def copy(self) -> Capacity:
        return Capacity(self.cpu, self.memory, self.accelerators, self.accelerator_type)
