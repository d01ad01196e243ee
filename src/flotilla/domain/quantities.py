"""Resource quantities in Kubernetes notation.

CPU is held as integer millicores (``"500m"`` → 500, ``"4"`` → 4000, ``0.5`` → 500); memory as
integer bytes (``"16Gi"``, ``"1500Mi"``, ``"1G"``, ``1024``). ``format_*`` gives the canonical
spelling, and ``parse(format(x)) == x`` for every non-negative integer.

A bare number is read as users mean it (``2`` CPU is two cores). Code that holds millicores or
bytes and builds a model from them passes ``format_cpu(m)`` / ``format_memory(b)``, or sets
the field with ``model_copy(update=...)``, which does not validate.
"""

from __future__ import annotations

import re
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50}
_DECIMAL = {"k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15}
_MEMORY_RE = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([KMGTP]i|[kKMGTP])?B?")
_CPU_RE = re.compile(r"([0-9]+(?:\.[0-9]+)?)(m)?")

MAX_CPU_MILLI = 10**9
MAX_MEMORY_BYTES = 2**60

# Scaling is exact: the default 28-digit context would round 1.00…01 cores to 1000m.
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)


def _number(value: Any, what: str) -> Decimal:
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a number or a quantity string, not a boolean")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{what} {value!r} is not a number") from None
    if not number.is_finite() or number < 0:
        raise ValueError(f"{what} must be a non-negative finite number, got {value!r}")
    return number


def parse_cpu(value: Any) -> int:
    """CPU quantity → millicores. Accepts ``"500m"``, ``"2"``, ``"0.5"``, ``2``, ``0.25``."""
    if isinstance(value, str):
        match = _CPU_RE.fullmatch(value.strip())
        if not match:
            raise ValueError(
                f"invalid CPU quantity {value!r}: use cores ('2', '0.5') or millicores ('500m')"
            )
        number, milli = Decimal(match.group(1)), match.group(2)
        millis = number if milli else _EXACT.multiply(number, 1000)
    else:
        millis = _EXACT.multiply(_number(value, "CPU"), 1000)
    if millis != millis.to_integral_value():
        raise ValueError(f"CPU quantity {value!r} is finer than 1 millicore")
    result = int(millis)
    if result > MAX_CPU_MILLI:
        raise ValueError(f"CPU quantity {value!r} is too large")
    return result


def format_cpu(millicores: int) -> str:
    """Millicores → canonical CPU quantity: whole cores as ``"4"``, else ``"500m"``."""
    if millicores % 1000 == 0:
        return str(millicores // 1000)
    return f"{millicores}m"


def parse_memory(value: Any) -> int:
    """Memory quantity → bytes. Accepts ``"16Gi"``, ``"1500Mi"``, ``"1G"``, ``"512"``, ``1024``."""
    if isinstance(value, str):
        match = _MEMORY_RE.fullmatch(value.strip())
        if not match:
            raise ValueError(
                f"invalid memory quantity {value!r}: use a number with a unit such as '512Mi' or '16Gi'"
            )
        number, unit = Decimal(match.group(1)), match.group(2)
        scale = _BINARY.get(unit or "", _DECIMAL.get(unit or "", 1))
        amount = _EXACT.multiply(number, scale)
    else:
        amount = _number(value, "memory")
    if amount != amount.to_integral_value():
        raise ValueError(f"memory quantity {value!r} is not a whole number of bytes")
    result = int(amount)
    if result > MAX_MEMORY_BYTES:
        raise ValueError(f"memory quantity {value!r} is too large")
    return result


def format_memory(num_bytes: int) -> str:
    """Bytes → canonical memory quantity with the largest binary unit that divides exactly."""
    if num_bytes == 0:
        return "0"
    for unit, scale in sorted(_BINARY.items(), key=lambda item: -item[1]):
        if num_bytes % scale == 0:
            return f"{num_bytes // scale}{unit}"
    return str(num_bytes)


_QUANTITY_SCHEMA = {"anyOf": [{"type": "string"}, {"type": "number", "minimum": 0}]}

Cpu = Annotated[
    int,
    BeforeValidator(parse_cpu),
    PlainSerializer(format_cpu, return_type=str, when_used="json"),
    WithJsonSchema({**_QUANTITY_SCHEMA, "examples": ["500m", "4"]}, mode="validation"),
    WithJsonSchema({"type": "string", "examples": ["500m", "4"]}, mode="serialization"),
]
"""CPU in millicores; read from and written as a quantity string."""

Memory = Annotated[
    int,
    BeforeValidator(parse_memory),
    PlainSerializer(format_memory, return_type=str, when_used="json"),
    WithJsonSchema({**_QUANTITY_SCHEMA, "examples": ["512Mi", "16Gi"]}, mode="validation"),
    WithJsonSchema({"type": "string", "examples": ["512Mi", "16Gi"]}, mode="serialization"),
]
"""Memory in bytes; read from and written as a quantity string."""
