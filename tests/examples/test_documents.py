"""The example YAML files parse, and the example packages are valid model packages."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml

from flotilla.services.documents import load_documents
from flotilla.services.packages import ModelManifest, unpack_package
from flotilla.settings import Settings
from tests.factories import ok

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
YAML_FILES = sorted(EXAMPLES.glob("*.yaml"))
PACKAGES = ["echo", "sentiment"]


def test_the_example_files_are_there() -> None:
    names = {path.name for path in YAML_FILES}
    assert {"cluster.yaml", "nodepool.yaml", "deployment.yaml", "stack.yaml"} <= names


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.name)
def test_every_example_yaml_loads(path: Path) -> None:
    documents = load_documents(path.read_text())
    assert documents


def test_the_stack_is_the_three_files_together() -> None:
    stack = load_documents((EXAMPLES / "stack.yaml").read_text())
    assert [(d.kind, d.spec.id) for d in stack] == [  # type: ignore[attr-defined]
        ("compute_cluster", "local"),
        ("nodepool", "cpu"),
        ("deployment", "echo-local"),
    ]
    singles = [
        load_documents((EXAMPLES / f"{name}.yaml").read_text())[0]
        for name in ("cluster", "nodepool", "deployment")
    ]
    assert [(d.kind, d.spec, d.compute_cluster) for d in stack] == [
        (d.kind, d.spec, d.compute_cluster) for d in singles
    ]


def test_the_deployment_runs_echo_on_the_local_nodepool() -> None:
    by_kind = {d.kind: d for d in load_documents((EXAMPLES / "stack.yaml").read_text())}
    cluster, pool, deployment = (
        by_kind["compute_cluster"].spec.model_dump(),
        by_kind["nodepool"].spec.model_dump(),
        by_kind["deployment"].spec.model_dump(),
    )
    assert (cluster["cloud_provider"], cluster["region"]) == ("local", "local")
    assert pool["instance_types"] == ["local-small", "local-medium"]
    assert by_kind["nodepool"].compute_cluster == cluster["id"]
    assert deployment["model"] == "echo"
    assert deployment["nodepools"] == [
        {"compute_cluster": cluster["id"], "nodepool": pool["id"], "priority": 0}
    ]


@pytest.mark.parametrize(
    ("name", "cpu", "memory"), [("echo", 250, 128 * 2**20), ("sentiment", 500, 256 * 2**20)]
)
def test_the_model_manifests(name: str, cpu: int, memory: int) -> None:
    manifest = ModelManifest.model_validate(
        yaml.safe_load((EXAMPLES / name / "model.yaml").read_text())
    )
    assert manifest.id == name
    assert (manifest.resources.cpu, manifest.resources.memory) == (cpu, memory)
    assert (EXAMPLES / name / manifest.entrypoint_file).is_file()
    assert not (EXAMPLES / name / "requirements.txt").exists()  # runs on the agent's Python


@pytest.mark.parametrize("name", PACKAGES)
def test_the_packages_pack_as_the_readme_says(name: str, tmp_path: Path) -> None:
    archive = tmp_path / f"{name}.tar.gz"
    subprocess.run(["tar", "czf", str(archive), "-C", str(EXAMPLES / name), "."], check=True)
    package = unpack_package(archive, Settings(home=tmp_path / "home"), model_id=name)
    assert package.manifest.id == name
    assert package.requirements_hash is None
    assert (package.path / "model.py").is_file()


async def test_the_stack_applies_once_echo_is_uploaded(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    archive = tmp_path / "echo.tar.gz"
    command = ["tar", "czf", str(archive), "-C", str(EXAMPLES / "echo"), "."]
    await asyncio.to_thread(subprocess.run, command, check=True)
    upload = await client.post(
        "/v1/models/echo/versions",
        content=archive.read_bytes(),
        headers={"Content-Type": "application/gzip"},
    )
    assert upload.status_code == 201, upload.text
    answer = await ok(
        await client.post(
            "/v1/apply",
            content=(EXAMPLES / "stack.yaml").read_text(),
            headers={"Content-Type": "application/yaml"},
        )
    )
    assert [(r["kind"], r["id"], r["action"]) for r in answer["results"]] == [
        ("compute_cluster", "local", "created"),
        ("nodepool", "cpu", "created"),
        ("deployment", "echo-local", "created"),
    ]
