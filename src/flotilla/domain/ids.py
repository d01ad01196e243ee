"""Object ids: user-chosen, 1–64 characters, ``[A-Za-z0-9][A-Za-z0-9_-]*``."""

from __future__ import annotations

import re
import secrets
from typing import Annotated

from pydantic import AfterValidator, Field

ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
ID_RULE = "1–64 characters: letters, digits, '-' and '_', starting with a letter or digit"


def check_id(value: str) -> str:
    """Return ``value`` if it is a valid object id, else raise ``ValueError`` saying why."""
    if not ID_RE.fullmatch(value):
        raise ValueError(f"invalid id {value!r}: must be {ID_RULE}")
    return value


def new_id(prefix: str, nbytes: int = 5) -> str:
    """A fresh random id such as ``node-3f9a01c2d4`` for objects the system names."""
    return f"{prefix}-{secrets.token_hex(nbytes)}"


ObjectId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        json_schema_extra={"pattern": r"^[A-Za-z0-9][A-Za-z0-9_-]*$"},
        examples=["gpu-east"],
    ),
    AfterValidator(check_id),
]
"""A user-chosen object id."""

INSTANCE_TYPE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_instance_type_id(value: str) -> str:
    if not INSTANCE_TYPE_RE.fullmatch(value):
        raise ValueError(
            f"invalid instance type {value!r}: must be 1–64 characters: letters, digits, '.', '-' "
            "and '_', starting with a letter or digit"
        )
    return value


InstanceTypeId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        json_schema_extra={"pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]*$"},
        examples=["g5.xlarge"],
    ),
    AfterValidator(check_instance_type_id),
]
"""A provider's instance type name, such as ``g5.xlarge`` or ``n2-standard-8``."""
