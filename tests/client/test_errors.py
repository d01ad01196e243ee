"""``flotilla.errors``: the SDK raises the server's own classes, one per code; the package
itself loads lazily; the answers the SDK mirrors keep the server's shape."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import flotilla
from flotilla.api.routers import logs, users
from flotilla.client import types
from flotilla.domain import errors as domain
from flotilla.errors import ERRORS_BY_CODE, FlotillaError, error_from_code
from flotilla.services import apply, usage


def test_flotilla_errors_exports_every_class_the_server_raises() -> None:
    for code, cls in domain.ERRORS_BY_CODE.items():
        assert getattr(flotilla.errors, cls.__name__) is cls
        assert ERRORS_BY_CODE[code] is cls


@pytest.mark.parametrize("code", sorted(ERRORS_BY_CODE))
def test_every_code_turns_back_into_its_class(code: str) -> None:
    error = error_from_code(code, "what happened", {"field": "why"})
    assert type(error) is ERRORS_BY_CODE[code]
    assert (error.code, error.message, error.fields) == (code, "what happened", {"field": "why"})


def test_families_catch_their_members() -> None:
    assert isinstance(error_from_code("NODEPOOL_NOT_FOUND", ""), flotilla.errors.NotFound)
    assert isinstance(error_from_code("MODEL_IN_USE", ""), flotilla.errors.Conflict)
    assert isinstance(error_from_code("TOKEN_REVOKED", ""), flotilla.errors.Unauthenticated)
    assert isinstance(error_from_code("WAIT_TIMED_OUT", ""), FlotillaError)


def test_importing_flotilla_loads_only_the_standard_library() -> None:
    """Replicas import flotilla.runtime where flotilla's dependencies may be missing."""
    probe = (
        "import sys, flotilla\n"
        "loaded = {m.split('.')[0] for m in sys.modules}\n"
        "print(sorted(loaded - set(sys.stdlib_module_names) - {'flotilla', '__main__'}))"
    )
    source = Path(flotilla.__file__).parents[1]
    found = subprocess.run(  # -S: no site-packages, as in a replica's bare environment
        [sys.executable, "-S", "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(source)},
    )
    assert found.stdout.strip() == "[]"
    assert flotilla.Client.__module__ == "flotilla.client.sync"
    assert flotilla.AsyncClient.__module__ == "flotilla.client.aio"


@pytest.mark.parametrize(
    ("mirror", "original"),
    [
        (types.Usage, usage.Usage),
        (types.UsageRow, usage.UsageRow),
        (types.ApplyResponse, apply.ApplyResponse),
        (types.ApplyResult, apply.ApplyResult),
        (types.UserCreated, users.UserCreated),
        (types.LogLine, logs.LogLine),
        (types.LogLines, logs.LogLines),
    ],
)
def test_an_answer_the_sdk_mirrors_has_the_servers_fields(mirror: type, original: type) -> None:
    assert list(mirror.model_fields) == list(original.model_fields)
    for name, field in original.model_fields.items():
        assert mirror.model_fields[name].is_required() == field.is_required(), name
