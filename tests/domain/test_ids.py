"""Object ids and instance type ids: what is accepted, what is refused, and what the refusal says."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from flotilla.domain.ids import (
    ID_RULE,
    InstanceTypeId,
    ObjectId,
    check_id,
    check_instance_type_id,
    new_id,
)


class Named(BaseModel):
    id: ObjectId


class Typed(BaseModel):
    instance_type: InstanceTypeId


@pytest.mark.parametrize(
    "value",
    ["a", "7", "gpu-east", "gpu_east", "A-1_b", "0abc", "x" * 64, "Z" + "-" * 63],
)
def test_valid_object_id_is_returned_unchanged(value: str) -> None:
    assert check_id(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "x" * 65,
        "-starts-with-dash",
        "_starts-with-underscore",
        "has.dot",
        "has space",
        "has/slash",
        "trailing-newline\n",
        "café",
        "١٢٣",  # Arabic-Indic digits are digits to Unicode, not to the id rule
    ],
)
def test_invalid_object_id_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="invalid id"):
        check_id(value)


def test_object_id_refusal_names_the_value_and_states_the_rule() -> None:
    with pytest.raises(ValueError, match="invalid id 'bad id'") as caught:
        check_id("bad id")
    assert str(caught.value) == (
        "invalid id 'bad id': must be 1–64 characters: letters, digits, '-' and '_', "
        "starting with a letter or digit"
    )
    assert ID_RULE in str(caught.value)


def test_object_id_of_64_characters_is_the_longest_accepted() -> None:
    assert check_id("a" * 64) == "a" * 64
    with pytest.raises(ValueError, match="1–64 characters"):
        check_id("a" * 65)


def test_object_id_field_accepts_a_valid_id() -> None:
    assert Named(id="gpu-east").id == "gpu-east"


def test_object_id_field_reports_the_rule_for_a_bad_character() -> None:
    with pytest.raises(ValidationError) as caught:
        Named(id="gpu.east")
    [error] = caught.value.errors()
    assert error["loc"] == ("id",)
    assert ID_RULE in error["msg"]


@pytest.mark.parametrize(
    ("value", "kind"), [("", "string_too_short"), ("a" * 65, "string_too_long")]
)
def test_object_id_field_refuses_empty_and_overlong_ids(value: str, kind: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Named(id=value)
    assert [e["type"] for e in caught.value.errors()] == [kind]


def test_object_id_schema_publishes_the_pattern_and_length() -> None:
    schema = Named.model_json_schema()["properties"]["id"]
    assert schema["pattern"] == "^[A-Za-z0-9][A-Za-z0-9_-]*$"
    assert (schema["minLength"], schema["maxLength"]) == (1, 64)


@pytest.mark.parametrize(
    "value", ["g5.xlarge", "n2-standard-8", "p4d.24xlarge", "local_small", "a", "a" * 64]
)
def test_instance_type_id_allows_dots(value: str) -> None:
    assert check_instance_type_id(value) == value
    assert Typed(instance_type=value).instance_type == value


@pytest.mark.parametrize("value", ["", ".xlarge", "-large", "g5 xlarge", "g5/xlarge", "a" * 65])
def test_invalid_instance_type_id_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="invalid instance type"):
        check_instance_type_id(value)


def test_instance_type_refusal_states_the_whole_rule() -> None:
    with pytest.raises(ValueError, match=r"invalid instance type '\.xlarge'") as caught:
        check_instance_type_id(".xlarge")
    assert str(caught.value) == (
        "invalid instance type '.xlarge': must be 1–64 characters: letters, digits, '.', '-' "
        "and '_', starting with a letter or digit"
    )


def test_object_id_does_not_allow_the_dots_instance_types_may_have() -> None:
    with pytest.raises(ValueError, match="invalid id"):
        check_id("g5.xlarge")


def test_new_id_is_a_valid_object_id_with_the_prefix_and_random_hex() -> None:
    made = new_id("node")
    assert check_id(made) == made
    prefix, suffix = made.split("-")
    assert prefix == "node"
    assert len(suffix) == 10
    assert int(suffix, 16) >= 0


def test_new_id_differs_each_time() -> None:
    assert len({new_id("replica") for _ in range(100)}) == 100
