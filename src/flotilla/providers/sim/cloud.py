"""The ``sim`` provider: a cloud in virtual time.

Launches take each type's ``launch_seconds`` (± jitter); capacity pools per (region, type,
capacity type) can be limited to run short; spot instances are interrupted at a configurable
rate, with a notice before they are reclaimed. Everything is computed from the injected clock
and a seeded random generator, so a run is the same every time.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flotilla.catalog import Catalog
from flotilla.domain.states import CapacityType
from flotilla.domain.time import Clock
from flotilla.providers.base import (
    TAG_NODE,
    Instance,
    InstanceState,
    LaunchSpec,
    NoCapacity,
    ProviderEvent,
    ProviderEventKind,
)

PoolKey = tuple[str, str, CapacityType]
"""(region, instance type, capacity type)."""


class SimulatedCrash(Exception):
    """Raised by ``launch`` after the instance was started, when a test asks for it: the caller
    behaves as if its process died between the provider call and recording the result."""


@dataclass
class SimConfig:
    seed: int = 0
    launch_jitter: float = 0.1
    default_launch_seconds: float = 60.0
    spot_interruptions_per_hour: float = 0.0
    """Rate at which each spot instance is reclaimed (0: never, unless told)."""
    interruption_rate: Callable[[datetime], float] | None = None
    """Per-hour rate varying in time (a storm); overrides the constant rate when set."""
    interruption_notice_seconds: float = 120.0
    capacity: dict[PoolKey, int | None] = field(default_factory=dict)
    """Most instances that may run at once per pool; absent or None: unlimited."""


@dataclass
class SimInstance:
    instance_id: str
    spec: LaunchSpec
    launched_at: datetime
    running_at: datetime
    state: InstanceState = InstanceState.PENDING
    notice_at: datetime | None = None
    deadline: datetime | None = None
    noticed: bool = False
    terminated_at: datetime | None = None

    @property
    def pool(self) -> PoolKey:
        return (self.spec.region, self.spec.instance_type, self.spec.capacity_type)

    def view(self) -> Instance:
        return Instance(
            instance_id=self.instance_id,
            instance_type=self.spec.instance_type,
            capacity_type=self.spec.capacity_type,
            state=self.state,
            tags=dict(self.spec.tags),
            launched_at=self.launched_at,
        )


class SimCloud:
    name = "sim"

    def __init__(self, clock: Clock, catalog: Catalog, config: SimConfig | None = None) -> None:
        self.clock = clock
        self.catalog = catalog
        self.config = config or SimConfig()
        self.random = random.Random(self.config.seed)
        self.instances: dict[str, SimInstance] = {}
        self._ids = itertools.count(1)
        self._events: list[ProviderEvent] = []
        self.launch_calls = 0
        self.crash_after_next_launch = False
        self._advanced_to = clock.now()

    # scripting for tests and traces ----------------------------------------------------------

    def set_capacity(
        self, region: str, instance_type: str, capacity_type: CapacityType, limit: int | None
    ) -> None:
        self.config.capacity[(region, instance_type, capacity_type)] = limit

    def interrupt(self, instance_id: str, notice_seconds: float | None = None) -> None:
        """Send an interruption notice now; the instance is reclaimed when it runs out."""
        instance = self.instances[instance_id]
        now = self.clock.now()
        instance.notice_at = now
        instance.deadline = now + timedelta(
            seconds=notice_seconds or self.config.interruption_notice_seconds
        )
        self.advance()

    def kill(self, instance_id: str, why: str = "the machine failed") -> None:
        """The instance dies at once, without notice (a crash, a host failure)."""
        instance = self.instances[instance_id]
        if instance.state != InstanceState.TERMINATED:
            self._end(instance, self.clock.now(), why)

    def alive(self) -> list[SimInstance]:
        self.advance()
        return [i for i in self.instances.values() if i.state != InstanceState.TERMINATED]

    # the Provider protocol ------------------------------------------------------------------

    async def launch(self, spec: LaunchSpec) -> Instance:
        self.advance()
        for existing in self.instances.values():
            if (
                existing.state != InstanceState.TERMINATED
                and existing.spec.tags.get(TAG_NODE) == spec.node_id
            ):
                return existing.view()
        key = (spec.region, spec.instance_type, spec.capacity_type)
        limit = self.config.capacity.get(key)
        if limit is not None and sum(1 for i in self.alive() if i.pool == key) >= limit:
            raise NoCapacity(
                f"no {spec.capacity_type.value} {spec.instance_type} left in {spec.region}"
            )
        now = self.clock.now()
        it = self.catalog.instance_type("sim", spec.region, spec.instance_type)
        base = (
            it.launch_seconds if it and it.launch_seconds else None
        ) or self.config.default_launch_seconds
        jitter = 1.0 + self.random.uniform(-self.config.launch_jitter, self.config.launch_jitter)
        instance = SimInstance(
            instance_id=f"i-{next(self._ids):08x}",
            spec=spec,
            launched_at=now,
            running_at=now + timedelta(seconds=base * jitter),
        )
        self.instances[instance.instance_id] = instance
        self.launch_calls += 1
        if self.crash_after_next_launch:
            self.crash_after_next_launch = False
            raise SimulatedCrash(f"crashed after launching {instance.instance_id}")
        return instance.view()

    async def terminate(self, instance_id: str) -> None:
        instance = self.instances.get(instance_id)
        if instance is not None and instance.state != InstanceState.TERMINATED:
            instance.state = InstanceState.TERMINATED
            instance.terminated_at = self.clock.now()

    async def list_instances(self, tags: dict[str, str]) -> list[Instance]:
        return [
            i.view() for i in self.alive() if all(i.spec.tags.get(k) == v for k, v in tags.items())
        ]

    async def events(self) -> list[ProviderEvent]:
        self.advance()
        found, self._events = self._events, []
        return found

    # time -----------------------------------------------------------------------------------

    def advance(self) -> None:
        """Bring every instance up to the clock's now, queueing the events that happened."""
        now = self.clock.now()
        elapsed = (now - self._advanced_to).total_seconds()
        self._advanced_to = max(now, self._advanced_to)
        rate = (
            self.config.interruption_rate(now)
            if self.config.interruption_rate
            else self.config.spot_interruptions_per_hour
        )
        for instance in self.instances.values():
            if instance.state == InstanceState.TERMINATED:
                continue
            spot = instance.spec.capacity_type == CapacityType.SPOT
            exposed = spot and rate > 0 and elapsed > 0 and instance.notice_at is None
            if exposed and self.random.random() < rate * elapsed / 3600.0:
                instance.notice_at = now
                instance.deadline = now + timedelta(seconds=self.config.interruption_notice_seconds)

            if instance.state == InstanceState.PENDING and instance.running_at <= now:
                instance.state = InstanceState.RUNNING
            if (
                instance.notice_at is not None
                and instance.notice_at <= now
                and not instance.noticed
            ):
                instance.noticed = True
                self._events.append(
                    ProviderEvent(
                        ProviderEventKind.INTERRUPTION_NOTICE,
                        instance.instance_id,
                        instance.notice_at,
                        instance.deadline,
                    )
                )
            if instance.deadline is not None and instance.deadline <= now:
                self._end(instance, instance.deadline, "spot capacity reclaimed")

    def _end(self, instance: SimInstance, at: datetime, why: str) -> None:
        instance.state = InstanceState.TERMINATED
        instance.terminated_at = at
        self._events.append(
            ProviderEvent(ProviderEventKind.TERMINATED, instance.instance_id, at, message=why)
        )
