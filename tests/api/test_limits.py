"""Size limits: a body or package over its limit answers 413 with a code before anything is kept."""

from __future__ import annotations

import io
import random
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from flotilla.settings import Settings
from tests.factories import ECHO_MODEL_PY, echo_package, expect_error, model_yaml, ok

MAX_BODY = 2048
MAX_PACKAGE = 4096
MAX_UNPACKED = 16384
GZIP = {"Content-Type": "application/gzip"}


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Small limits, so that breaking them takes kilobytes, not megabytes."""
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        run_migrations=False,
        max_body_bytes=MAX_BODY,
        max_package_bytes=MAX_PACKAGE,
        max_package_unpacked_bytes=MAX_UNPACKED,
        max_package_files=10,
    )


def assert_nothing_written(settings: Settings) -> None:
    for folder in (settings.packages_dir, settings.home / "tmp"):
        assert not folder.exists() or not any(folder.iterdir()), list(folder.iterdir())


async def chunks(data: bytes, size: int = 512) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def noise(size: int) -> bytes:
    """Bytes that do not compress."""
    return random.Random(size).randbytes(size)


def package_with(extra: dict[str, bytes]) -> bytes:
    files = {"model.yaml": model_yaml("echo"), "model.py": ECHO_MODEL_PY, **extra}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


async def test_a_json_body_over_the_limit_is_refused_before_it_is_read(
    client: httpx.AsyncClient,
) -> None:
    body = {"id": "c", "cloud_provider": "aws", "region": "us-east-1", "description": "x" * 3000}
    problem = expect_error(
        await client.post("/v1/compute_clusters", json=body), 413, "BODY_TOO_LARGE"
    )
    assert str(MAX_BODY) in problem["message"]
    expect_error(await client.get("/v1/compute_clusters/c"), 404, "CLUSTER_NOT_FOUND")


async def test_a_streamed_body_over_the_limit_is_refused_too(client: httpx.AsyncClient) -> None:
    text = b"compute_cluster: {id: c, cloud_provider: aws, region: us-east-1}\n#" + b"x" * 4000
    response = await client.post(
        "/v1/apply", content=chunks(text), headers={"Content-Type": "application/yaml"}
    )
    expect_error(response, 413, "BODY_TOO_LARGE")
    expect_error(await client.get("/v1/compute_clusters/c"), 404, "CLUSTER_NOT_FOUND")


async def test_a_body_just_under_the_limit_is_accepted(client: httpx.AsyncClient) -> None:
    body = {"id": "c", "cloud_provider": "aws", "region": "us-east-1", "description": "x" * 900}
    await ok(await client.post("/v1/compute_clusters", json=body), 201)


async def test_a_package_over_its_limit_is_refused_and_nothing_is_written(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    content = package_with({"weights.bin": noise(MAX_PACKAGE)})
    assert MAX_BODY < MAX_PACKAGE < len(content)
    problem = expect_error(
        await client.post("/v1/models/echo/versions", content=content, headers=GZIP),
        413,
        "PACKAGE_TOO_LARGE",
    )
    assert "FLOTILLA_MAX_PACKAGE_BYTES" in problem["message"]
    assert_nothing_written(settings)


async def test_a_streamed_package_over_its_limit_is_refused_and_nothing_is_written(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    content = package_with({"weights.bin": noise(MAX_PACKAGE)})
    response = await client.post("/v1/models/echo/versions", content=chunks(content), headers=GZIP)
    expect_error(response, 413, "PACKAGE_TOO_LARGE")
    assert_nothing_written(settings)
    expect_error(await client.get("/v1/models/echo"), 404, "MODEL_NOT_FOUND")


async def test_a_package_larger_than_a_json_body_but_within_its_own_limit_is_accepted(
    client: httpx.AsyncClient,
) -> None:
    content = package_with({"notes.bin": noise(MAX_BODY)})
    assert MAX_BODY < len(content) < MAX_PACKAGE
    await ok(await client.post("/v1/models/echo/versions", content=content, headers=GZIP), 201)


async def test_a_package_that_unpacks_to_too_much_data_is_refused_and_nothing_is_written(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    content = package_with({"zeros.bin": bytes(MAX_UNPACKED * 4)})  # compresses to little
    assert len(content) < MAX_PACKAGE
    problem = expect_error(
        await client.post("/v1/models/echo/versions", content=content, headers=GZIP),
        413,
        "PACKAGE_TOO_LARGE",
    )
    assert "unpacked" in problem["message"]
    assert_nothing_written(settings)


async def test_a_package_with_too_many_files_is_refused_and_nothing_is_written(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    content = package_with({f"f{i}.txt": b"" for i in range(12)})
    expect_error(
        await client.post("/v1/models/echo/versions", content=content, headers=GZIP),
        413,
        "PACKAGE_TOO_LARGE",
    )
    assert_nothing_written(settings)


async def test_a_normal_package_still_uploads(client: httpx.AsyncClient) -> None:
    await ok(
        await client.post("/v1/models/echo/versions", content=echo_package(), headers=GZIP), 201
    )
