"""``flotilla.runtime`` imports only the standard library: a replica may run in a virtualenv
holding just the model's requirements, with ``flotilla`` on a path and none of its
dependencies."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

import httpx

from tests.runtime.replicas import EXAMPLES, Replica, stdlib_only_env

IMPORT_EVERYTHING = """
import json, sys
import flotilla.runtime, flotilla.runtime.__main__, flotilla.runtime.server
from flotilla.runtime import InvalidInput, Model, load_model
allowed = set(sys.stdlib_module_names) | {"flotilla", "__main__", "_virtualenv"}
print(json.dumps(sorted(
    name for name in sys.modules if name.partition(".")[0] not in allowed
)))
"""


def test_importing_the_runtime_loads_only_the_standard_library() -> None:
    answer = subprocess.run(
        [sys.executable, "-S", "-c", IMPORT_EVERYTHING],
        env=stdlib_only_env(),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert json.loads(answer.stdout) == []


def test_a_replica_runs_without_site_packages(replica: Callable[..., Replica]) -> None:
    # -S: no site-packages at all, so any import of pydantic, yaml, httpx... would fail
    server = replica(
        EXAMPLES / "sentiment",
        "model.py:Sentiment",
        python=(sys.executable, "-S"),
        env=stdlib_only_env(),
    ).ready()
    response = httpx.post(f"{server.url}/predict", json={"inputs": "A delightful film"})
    assert response.json() == {
        "outputs": {"label": "positive", "score": response.json()["outputs"]["score"]}
    }
