"""/v1/models and their versions: package upload (checked and unpacked safely, stored by content),
reading versions back, deletes, and who sees what."""

from __future__ import annotations

import gzip
import io
import tarfile

import httpx
import pytest

from flotilla.settings import Settings
from tests.factories import (
    ECHO_MODEL_PY,
    create_deployment,
    create_user,
    echo_package,
    expect_error,
    model_yaml,
    ok,
    upload_model,
)

GZIP = {"Content-Type": "application/gzip"}


def tar_gz(*members: tuple[tarfile.TarInfo, bytes | None]) -> bytes:
    """An archive holding exactly these members (names taken literally, links included)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


ECHO = (file("model.yaml", model_yaml("echo")), file("model.py", ECHO_MODEL_PY))


def assert_nothing_written(settings: Settings) -> None:
    for folder in (settings.packages_dir, settings.home / "tmp"):
        assert not folder.exists() or not any(folder.iterdir()), list(folder.iterdir())


async def upload(client: httpx.AsyncClient, model_id: str, content: bytes) -> httpx.Response:
    return await client.post(f"/v1/models/{model_id}/versions", content=content, headers=GZIP)


async def test_uploading_a_package_creates_the_model_and_its_first_version(
    client: httpx.AsyncClient,
) -> None:
    response = await upload(client, "echo", echo_package("echo"))
    version = await ok(response, 201)
    assert version["model"] == "echo"
    assert version["digest"].startswith("sha256:")
    assert version["entrypoint"] == "model.py:Echo"
    assert version["resources"] == {
        "cpu": "250m",
        "memory": "128Mi",
        "accelerators": 0,
        "accelerator_type": None,
    }
    model = await ok(await client.get("/v1/models/echo"))
    assert (model["latest_version"], model["version_count"]) == (version["id"], 1)
    assert model["description"] == "echoes its inputs"  # from model.yaml


async def test_the_same_files_uploaded_again_answer_200_with_the_existing_version(
    client: httpx.AsyncClient,
) -> None:
    first = await ok(await upload(client, "echo", echo_package("echo")), 201)
    again = await ok(await upload(client, "echo", echo_package("echo")), 200)
    assert again["id"] == first["id"]
    assert (await ok(await client.get("/v1/models/echo")))["version_count"] == 1


async def test_new_files_make_a_new_version_that_becomes_latest(client: httpx.AsyncClient) -> None:
    first = await upload_model(client, "echo")
    second = await upload_model(client, "echo", cpu="500m")
    assert second["id"] != first["id"]
    model = await ok(await client.get("/v1/models/echo"))
    assert (model["latest_version"], model["version_count"]) == (second["id"], 2)
    versions = await ok(await client.get("/v1/models/echo/versions"))
    assert [v["id"] for v in versions["items"]] == [second["id"], first["id"]]  # newest first
    latest = await ok(await client.get("/v1/models/echo/versions/latest"))
    assert latest["id"] == second["id"]
    older = await ok(await client.get(f"/v1/models/echo/versions/{first['id']}"))
    assert older["resources"]["cpu"] == "250m"


async def test_a_version_can_be_downloaded_as_its_normalized_package(
    client: httpx.AsyncClient,
) -> None:
    version = await upload_model(client, "echo")
    response = await client.get(f"/v1/models/echo/versions/{version['id']}/package")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/gzip"
    with tarfile.open(fileobj=io.BytesIO(response.content), mode="r:gz") as tar:
        assert sorted(tar.getnames()) == ["model.py", "model.yaml"]


async def test_an_upload_description_is_kept_on_the_version(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/models/echo/versions?description=first+try", content=echo_package(), headers=GZIP
    )
    assert (await ok(response, 201))["description"] == "first try"


async def test_an_upload_that_is_not_gzip_is_refused_as_unsupported(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/v1/models/echo/versions",
        content=echo_package(),
        headers={"Content-Type": "application/json"},
    )
    expect_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


async def test_an_upload_that_is_not_an_archive_is_invalid_and_nothing_is_written(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    problem = expect_error(await upload(client, "echo", b"just some bytes"), 422, "PACKAGE_INVALID")
    assert problem["fields"] == {"archive": "unreadable"}
    assert_nothing_written(settings)
    expect_error(await client.get("/v1/models/echo"), 404, "MODEL_NOT_FOUND")


@pytest.mark.parametrize(
    "bad",
    [
        file("../escape.py", b"x = 1\n"),
        file("sub/../../escape.py", b"x = 1\n"),
        file("/etc/cron.d/evil", b"* * * * * root true\n"),
        link("data", "/etc/passwd"),
        link("data", "../outside"),
        link("copy.py", "model.py", tarfile.LNKTYPE),
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "symlink-out", "symlink-up", "hardlink"],
)
async def test_a_package_with_a_member_outside_or_a_link_is_invalid_and_nothing_is_written(
    client: httpx.AsyncClient, settings: Settings, bad: tuple[tarfile.TarInfo, bytes | None]
) -> None:
    problem = expect_error(await upload(client, "echo", tar_gz(*ECHO, bad)), 422, "PACKAGE_INVALID")
    assert problem["fields"] == {"member": bad[0].name}
    assert_nothing_written(settings)
    expect_error(await client.get("/v1/models/echo"), 404, "MODEL_NOT_FOUND")


async def test_a_package_without_model_yaml_is_invalid(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    problem = expect_error(
        await upload(client, "echo", tar_gz(file("model.py", ECHO_MODEL_PY))),
        422,
        "PACKAGE_INVALID",
    )
    assert problem["fields"] == {"model.yaml": "missing"}
    assert_nothing_written(settings)


async def test_a_package_whose_model_yaml_names_another_model_is_invalid(
    client: httpx.AsyncClient,
) -> None:
    problem = expect_error(
        await upload(client, "sentiment", echo_package("echo")), 422, "PACKAGE_INVALID"
    )
    assert list(problem["fields"]) == ["id"]


async def test_a_package_with_an_unknown_field_in_model_yaml_names_it(
    client: httpx.AsyncClient,
) -> None:
    content = tar_gz(
        file("model.yaml", model_yaml("echo") + b"gpus: 1\n"), file("model.py", ECHO_MODEL_PY)
    )
    problem = expect_error(await upload(client, "echo", content), 422, "PACKAGE_INVALID")
    assert list(problem["fields"]) == ["gpus"]


async def test_an_entrypoint_longer_than_200_characters_is_invalid(
    client: httpx.AsyncClient,
) -> None:
    name = "m" * 240 + ".py"
    content = tar_gz(
        file("model.yaml", f"entrypoint: {name}:Echo\n".encode()), file(name, ECHO_MODEL_PY)
    )
    problem = expect_error(await upload(client, "echo", content), 422, "PACKAGE_INVALID")
    assert list(problem["fields"]) == ["entrypoint"]


async def test_an_invalid_model_id_in_the_upload_path_is_rejected(
    client: httpx.AsyncClient,
) -> None:
    problem = expect_error(
        await upload(client, "bad%20id", echo_package()), 422, "INVALID_ARGUMENT"
    )
    assert list(problem["fields"]) == ["path.model_id"]


async def test_a_model_can_be_created_before_its_first_upload(client: httpx.AsyncClient) -> None:
    model = await ok(await client.post("/v1/models", json={"id": "later", "description": "x"}), 201)
    assert (model["latest_version"], model["version_count"]) == (None, 0)
    expect_error(await client.get("/v1/models/later/versions/latest"), 409, "MODEL_HAS_NO_VERSIONS")


async def test_a_second_model_with_the_same_id_is_a_conflict(client: httpx.AsyncClient) -> None:
    await ok(await client.post("/v1/models", json={"id": "echo"}), 201)
    expect_error(await client.post("/v1/models", json={"id": "echo"}), 409, "MODEL_ALREADY_EXISTS")


async def test_an_unknown_version_is_not_found(client: httpx.AsyncClient) -> None:
    await upload_model(client, "echo")
    expect_error(
        await client.get("/v1/models/echo/versions/abc123"), 404, "MODEL_VERSION_NOT_FOUND"
    )
    expect_error(
        await client.get("/v1/models/echo/versions/abc123/package"), 404, "MODEL_VERSION_NOT_FOUND"
    )


async def test_patch_changes_a_models_description_but_not_its_id(
    client: httpx.AsyncClient,
) -> None:
    await upload_model(client, "echo")
    changed = await ok(await client.patch("/v1/models/echo", json={"description": "v2"}))
    assert changed["description"] == "v2"
    assert changed["version_count"] == 1
    expect_error(
        await client.patch("/v1/models/echo", json={"id": "other"}), 422, "FIELD_IMMUTABLE"
    )


async def test_models_are_listed_by_id(client: httpx.AsyncClient) -> None:
    await upload_model(client, "zeta")
    await upload_model(client, "alpha")
    models = await ok(await client.get("/v1/models"))
    assert [(m["id"], m["version_count"]) for m in models["items"]] == [("alpha", 1), ("zeta", 1)]


async def test_deleting_a_model_removes_it_and_its_versions(client: httpx.AsyncClient) -> None:
    await upload_model(client, "echo")
    response = await client.delete("/v1/models/echo")
    assert response.status_code == 204, response.text
    expect_error(await client.get("/v1/models/echo"), 404, "MODEL_NOT_FOUND")
    assert (await ok(await client.get("/v1/models")))["items"] == []


async def test_a_deployed_model_cannot_be_deleted(client: httpx.AsyncClient) -> None:
    await upload_model(client, "echo")
    await create_deployment(client, "echo-prod")
    problem = expect_error(await client.delete("/v1/models/echo"), 409, "MODEL_IN_USE")
    assert "echo-prod" in problem["message"]


async def test_another_users_model_does_not_exist_for_you(client: httpx.AsyncClient) -> None:
    bob = await create_user(client, "bob")
    version = await upload_model(client, "echo")
    expect_error(await bob.get("/v1/models/echo"), 404, "MODEL_NOT_FOUND")
    expect_error(
        await bob.patch("/v1/models/echo", json={"description": "x"}), 404, "MODEL_NOT_FOUND"
    )
    expect_error(await bob.delete("/v1/models/echo"), 404, "MODEL_NOT_FOUND")
    expect_error(await bob.get("/v1/models/echo/versions"), 404, "MODEL_NOT_FOUND")
    expect_error(
        await bob.get(f"/v1/models/echo/versions/{version['id']}/package"), 404, "MODEL_NOT_FOUND"
    )
    assert (await ok(await bob.get("/v1/models")))["items"] == []
    await ok(await client.get("/v1/models/echo"))


async def test_a_user_uploading_to_an_id_someone_else_uses_gets_a_model_of_their_own(
    client: httpx.AsyncClient,
) -> None:
    bob = await create_user(client, "bob")
    await upload_model(client, "echo")
    await ok(await upload(bob, "echo", echo_package("echo")), 201)
    assert (await ok(await bob.get("/v1/models/echo")))["version_count"] == 1
    assert (await ok(await client.get("/v1/models/echo")))["version_count"] == 1


async def test_a_gzip_that_unpacks_to_more_than_a_tar_is_still_read_as_one(
    client: httpx.AsyncClient,
) -> None:
    # A package compressed twice is still gzip, but not a tar inside: refused, clearly.
    problem = expect_error(
        await upload(client, "echo", gzip.compress(echo_package())), 422, "PACKAGE_INVALID"
    )
    assert problem["fields"] == {"archive": "unreadable"}
