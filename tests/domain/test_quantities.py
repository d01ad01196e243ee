"""CPU and memory quantities: parsed to integers, compared, and written back canonically."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from flotilla.domain.quantities import (
    MAX_CPU_MILLI,
    MAX_MEMORY_BYTES,
    Cpu,
    Memory,
    format_cpu,
    format_memory,
    parse_cpu,
    parse_memory,
)

Ki, Mi, Gi, Ti, Pi = 2**10, 2**20, 2**30, 2**40, 2**50


class Shape(BaseModel):
    cpu: Cpu
    memory: Memory


# ---------------------------------------------------------------- CPU


@pytest.mark.parametrize(
    ("value", "millicores"),
    [
        ("500m", 500),
        ("4", 4000),
        ("0.5", 500),
        ("0.001", 1),
        ("1.5", 1500),
        ("0", 0),
        ("0m", 0),
        ("2500m", 2500),
        (" 250m ", 250),
        (2, 2000),
        (0.25, 250),
        (0, 0),
        (1.0, 1000),
    ],
)
def test_cpu_quantity_parses_to_millicores(value: Any, millicores: int) -> None:
    assert parse_cpu(value) == millicores


@pytest.mark.parametrize(
    ("millicores", "text"),
    [(4000, "4"), (500, "500m"), (1500, "1500m"), (1, "1m"), (0, "0"), (96000, "96")],
)
def test_cpu_is_formatted_as_whole_cores_or_millicores(millicores: int, text: str) -> None:
    assert format_cpu(millicores) == text


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", "invalid CPU quantity 'abc': use cores ('2', '0.5') or millicores ('500m')"),
        ("-1", "invalid CPU quantity '-1': use cores ('2', '0.5') or millicores ('500m')"),
        ("1Gi", "invalid CPU quantity '1Gi': use cores ('2', '0.5') or millicores ('500m')"),
        ("1e3", "invalid CPU quantity '1e3': use cores ('2', '0.5') or millicores ('500m')"),
        ("nan", "invalid CPU quantity 'nan': use cores ('2', '0.5') or millicores ('500m')"),
        ("", "invalid CPU quantity '': use cores ('2', '0.5') or millicores ('500m')"),
        ("1.5m", "CPU quantity '1.5m' is finer than 1 millicore"),
        ("0.0005", "CPU quantity '0.0005' is finer than 1 millicore"),
        (0.0001, "CPU quantity 0.0001 is finer than 1 millicore"),
        (True, "CPU must be a number or a quantity string, not a boolean"),
        (-1, "CPU must be a non-negative finite number, got -1"),
        (math.nan, "CPU must be a non-negative finite number, got nan"),
        (math.inf, "CPU must be a non-negative finite number, got inf"),
        (None, "CPU None is not a number"),
        ("1000001", "CPU quantity '1000001' is too large"),
    ],
)
def test_invalid_cpu_quantity_is_refused_with_a_clear_message(value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        parse_cpu(value)


def test_cpu_finer_than_a_millicore_is_refused_even_beyond_28_significant_digits() -> None:
    with pytest.raises(ValueError, match="finer than 1 millicore"):
        parse_cpu("1.00000000000000000000000000001")


def test_cpu_at_the_maximum_is_accepted_and_one_millicore_more_is_not() -> None:
    assert parse_cpu(f"{MAX_CPU_MILLI}m") == MAX_CPU_MILLI
    with pytest.raises(ValueError, match="too large"):
        parse_cpu(f"{MAX_CPU_MILLI + 1}m")


def test_cpu_spellings_of_the_same_amount_compare_equal() -> None:
    assert parse_cpu("0.5") == parse_cpu("500m") == parse_cpu(0.5)
    assert parse_cpu("2") == parse_cpu(2) == parse_cpu("2000m")


def test_parsed_cpu_quantities_order_by_amount() -> None:
    spellings = ["2", "250m", "1.5", "1001m", "0.5"]
    assert sorted(spellings, key=parse_cpu) == ["250m", "0.5", "1001m", "1.5", "2"]
    assert parse_cpu("999m") < parse_cpu("1")


# ---------------------------------------------------------------- memory


@pytest.mark.parametrize(
    ("value", "num_bytes"),
    [
        ("16Gi", 16 * Gi),
        ("1500Mi", 1500 * Mi),
        ("1G", 10**9),
        ("512", 512),
        (1024, 1024),
        ("1Ki", Ki),
        ("1k", 1000),
        ("1K", 1000),
        ("2M", 2 * 10**6),
        ("1T", 10**12),
        ("1Ti", Ti),
        ("1Pi", Pi),
        ("1.5Gi", 3 * Gi // 2),
        ("16GiB", 16 * Gi),
        ("16 Gi", 16 * Gi),
        ("0", 0),
        (2048.0, 2048),
    ],
)
def test_memory_quantity_parses_to_bytes(value: Any, num_bytes: int) -> None:
    assert parse_memory(value) == num_bytes


@pytest.mark.parametrize(
    ("num_bytes", "text"),
    [
        (16 * Gi, "16Gi"),
        (1500 * Mi, "1500Mi"),
        (1024 * Mi, "1Gi"),
        (Ki, "1Ki"),
        (3 * Ti, "3Ti"),
        (2 * Pi, "2Pi"),
        (10**9, "1000000000"),
        (512, "512"),
        (0, "0"),
    ],
)
def test_memory_is_formatted_with_the_largest_binary_unit_that_divides_it(
    num_bytes: int, text: str
) -> None:
    assert format_memory(num_bytes) == text


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "abc",
            "invalid memory quantity 'abc': use a number with a unit such as '512Mi' or '16Gi'",
        ),
        ("-1", "invalid memory quantity '-1': use a number with a unit such as '512Mi' or '16Gi'"),
        (
            "1Qi",
            "invalid memory quantity '1Qi': use a number with a unit such as '512Mi' or '16Gi'",
        ),
        (
            "1ki",
            "invalid memory quantity '1ki': use a number with a unit such as '512Mi' or '16Gi'",
        ),
        (
            "1.5m",
            "invalid memory quantity '1.5m': use a number with a unit such as '512Mi' or '16Gi'",
        ),
        ("0.5", "memory quantity '0.5' is not a whole number of bytes"),
        (1.5, "memory quantity 1.5 is not a whole number of bytes"),
        (True, "memory must be a number or a quantity string, not a boolean"),
        (-1, "memory must be a non-negative finite number, got -1"),
        (math.nan, "memory must be a non-negative finite number, got nan"),
        (math.inf, "memory must be a non-negative finite number, got inf"),
        ("1025Pi", "memory quantity '1025Pi' is too large"),
    ],
)
def test_invalid_memory_quantity_is_refused_with_a_clear_message(value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        parse_memory(value)


def test_memory_at_the_maximum_is_accepted_and_one_byte_more_is_not() -> None:
    assert parse_memory("1024Pi") == MAX_MEMORY_BYTES
    with pytest.raises(ValueError, match="too large"):
        parse_memory(MAX_MEMORY_BYTES + 1)


def test_memory_fraction_of_a_byte_is_refused_even_beyond_28_significant_digits() -> None:
    with pytest.raises(ValueError, match="not a whole number of bytes"):
        parse_memory("1.0000000000000000000000000000001Ki")


def test_memory_spellings_of_the_same_amount_compare_equal() -> None:
    assert parse_memory("1Gi") == parse_memory("1024Mi") == parse_memory(Gi)
    assert parse_memory("1G") == parse_memory("1000M") == parse_memory("1000000000")


def test_binary_and_decimal_memory_units_differ() -> None:
    assert parse_memory("1Gi") > parse_memory("1G")
    assert parse_memory("1Gi") - parse_memory("1G") == 73_741_824


def test_parsed_memory_quantities_order_by_amount() -> None:
    spellings = ["16Gi", "1500Mi", "1G", "512", "2Gi"]
    assert sorted(spellings, key=parse_memory) == ["512", "1G", "1500Mi", "2Gi", "16Gi"]


# ---------------------------------------------------------------- properties


@given(st.integers(min_value=0, max_value=MAX_CPU_MILLI))
def test_cpu_quantity_round_trips_through_its_canonical_spelling(millicores: int) -> None:
    assert parse_cpu(format_cpu(millicores)) == millicores


@given(st.integers(min_value=0, max_value=MAX_MEMORY_BYTES))
def test_memory_quantity_round_trips_through_its_canonical_spelling(num_bytes: int) -> None:
    assert parse_memory(format_memory(num_bytes)) == num_bytes


cpu_spellings = st.one_of(
    st.integers(min_value=0, max_value=MAX_CPU_MILLI).map(lambda m: f"{m}m"),
    st.integers(min_value=0, max_value=MAX_CPU_MILLI // 1000).map(str),
    st.decimals(min_value=0, max_value=1000, places=3, allow_nan=False, allow_infinity=False).map(
        str
    ),
)

memory_units = st.sampled_from(["", "Ki", "Mi", "Gi", "Ti", "k", "M", "G", "T"])
memory_spellings = st.builds(
    lambda n, unit: f"{n}{unit}", st.integers(min_value=0, max_value=10**6), memory_units
)


@given(cpu_spellings)
def test_formatting_a_parsed_cpu_quantity_is_idempotent(text: str) -> None:
    canonical = format_cpu(parse_cpu(text))
    assert format_cpu(parse_cpu(canonical)) == canonical
    assert parse_cpu(canonical) == parse_cpu(text)


@given(memory_spellings)
def test_formatting_a_parsed_memory_quantity_is_idempotent(text: str) -> None:
    canonical = format_memory(parse_memory(text))
    assert format_memory(parse_memory(canonical)) == canonical
    assert parse_memory(canonical) == parse_memory(text)


# ---------------------------------------------------------------- pydantic types


def test_quantity_fields_read_strings_from_json() -> None:
    shape = Shape.model_validate_json('{"cpu": "500m", "memory": "16Gi"}')
    assert (shape.cpu, shape.memory) == (500, 16 * Gi)


def test_quantity_fields_read_numbers_from_json_as_cores_and_bytes() -> None:
    shape = Shape.model_validate_json('{"cpu": 2, "memory": 1048576}')
    assert (shape.cpu, shape.memory) == (2000, Mi)
    assert Shape.model_validate_json('{"cpu": 0.25, "memory": 1024}').cpu == 250


def test_quantity_fields_write_canonical_strings_to_json() -> None:
    shape = Shape(cpu="1.5", memory="1024Mi")
    assert json.loads(shape.model_dump_json()) == {"cpu": "1500m", "memory": "1Gi"}
    assert shape.model_dump(mode="json") == {"cpu": "1500m", "memory": "1Gi"}


def test_quantity_fields_stay_integers_in_python_dumps() -> None:
    assert Shape(cpu="4", memory="1500Mi").model_dump() == {"cpu": 4000, "memory": 1500 * Mi}


def test_quantity_fields_survive_a_json_round_trip() -> None:
    shape = Shape(cpu="250m", memory="1G")
    assert Shape.model_validate_json(shape.model_dump_json()) == shape


def test_invalid_quantity_field_names_the_field_and_the_problem() -> None:
    with pytest.raises(ValidationError) as caught:
        Shape.model_validate_json('{"cpu": "abc", "memory": true}')
    errors = {e["loc"]: e["msg"] for e in caught.value.errors()}
    assert errors == {
        ("cpu",): "Value error, invalid CPU quantity 'abc': use cores ('2', '0.5') or "
        "millicores ('500m')",
        ("memory",): "Value error, memory must be a number or a quantity string, not a boolean",
    }


def test_quantity_schema_accepts_strings_or_numbers_and_promises_strings() -> None:
    accepted = Shape.model_json_schema(mode="validation")["properties"]["cpu"]
    written = Shape.model_json_schema(mode="serialization")["properties"]["memory"]
    assert accepted["anyOf"] == [{"type": "string"}, {"type": "number", "minimum": 0}]
    assert written["type"] == "string"
