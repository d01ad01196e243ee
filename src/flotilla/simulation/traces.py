"""Seeded traffic traces: arrival times of requests, from a rate that varies over the day.

Arrivals are a Poisson process whose rate follows a shape: a diurnal curve, bursts, long idle
stretches. The same seed gives the same requests.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

Rate = Callable[[float], float]
"""Requests per second at a time (seconds from the start)."""


@dataclass(frozen=True)
class Trace:
    name: str
    duration: float
    arrivals: dict[str, list[float]]
    """Deployment name → sorted arrival times."""
    rates: dict[str, Rate] = field(default_factory=dict)
    spot_interruptions_per_hour: float = 0.0
    storm: tuple[float, float] | None = None
    """(start, end) of a spot-interruption storm, seconds from the start."""

    @property
    def requests(self) -> int:
        return sum(len(a) for a in self.arrivals.values())


def poisson(rate: Rate, duration: float, peak: float, rng: random.Random) -> list[float]:
    """Arrivals of a non-homogeneous Poisson process, by thinning at ``peak``."""
    times: list[float] = []
    t = 0.0
    while True:
        t += rng.expovariate(peak)
        if t >= duration:
            return times
        if rng.random() * peak <= rate(t):
            times.append(t)


def diurnal(low: float, high: float, day: float = 86_400.0, peak_at: float = 0.6) -> Rate:
    """A day's curve from ``low`` at night to ``high`` at ``peak_at`` of the day."""

    def rate(t: float) -> float:
        phase = (t % day) / day
        return low + (high - low) * 0.5 * (1 + math.cos(2 * math.pi * (phase - peak_at)))

    return rate


def bursty(
    base: float, burst: float, every: float, length: float, rng: random.Random, duration: float
) -> Rate:
    """A steady ``base`` with bursts of ``burst`` lasting ``length`` s, about every ``every`` s."""
    starts = []
    t = rng.uniform(0, every)
    while t < duration:
        starts.append(t)
        t += rng.expovariate(1 / every) + length

    def rate(at: float) -> float:
        return burst if any(s <= at < s + length for s in starts) else base

    return rate


def sparse(
    active: float, idle_gap: float, active_length: float, rng: random.Random, duration: float
) -> Rate:
    """Mostly idle: short active stretches separated by long gaps."""
    spans = []
    t = rng.uniform(0, idle_gap)
    while t < duration:
        spans.append((t, t + active_length))
        t += active_length + rng.expovariate(1 / idle_gap)

    def rate(at: float) -> float:
        return active if any(a <= at < b for a, b in spans) else 0.0

    return rate


def generate(
    name: str, duration: float, seed: int = 7, deployments: int = 1, scale: float = 1.0
) -> Trace:
    """One of the benchmark's traces: diurnal, bursty, sparse or spot_storm."""
    rng = random.Random(f"{name}:{seed}")
    arrivals: dict[str, list[float]] = {}
    rates: dict[str, Rate] = {}
    for index in range(deployments):
        key = f"{name}-{index}"
        if name in ("diurnal", "spot_storm"):
            rate = diurnal(2 * scale, 40 * scale, day=duration)
            peak = 40 * scale
        elif name == "bursty":
            rate = bursty(4 * scale, 60 * scale, every=1800, length=120, rng=rng, duration=duration)
            peak = 60 * scale
        elif name == "sparse":
            rate = sparse(
                5 * scale, idle_gap=3 * 3600, active_length=600, rng=rng, duration=duration
            )
            peak = 5 * scale
        else:
            raise ValueError(f"unknown trace '{name}'")
        rates[key] = rate
        arrivals[key] = poisson(rate, duration, peak, rng)
    storm = (duration * 0.4, duration * 0.7) if name == "spot_storm" else None
    return Trace(
        name=name,
        duration=duration,
        arrivals=arrivals,
        rates=rates,
        spot_interruptions_per_hour=0.5 if name == "spot_storm" else 0.0,
        storm=storm,
    )
