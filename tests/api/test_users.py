"""/v1/users: only admins manage users; every user reads themselves."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import as_token, create_cluster, create_token, create_user, expect_error, ok


async def test_an_admin_creates_a_user_who_gets_a_first_token_shown_once(
    client: httpx.AsyncClient,
) -> None:
    body = {"id": "bob", "name": "Bob", "email": "bob@example.com"}
    created = await ok(await client.post("/v1/users", json=body), 201)
    assert created["user"]["id"] == "bob"
    assert created["user"]["is_admin"] is False
    token = created["token"]
    assert (token["id"], token["scopes"]) == ("initial", ["read", "write"])
    assert token["secret"].startswith("flt_")
    me = await ok(await as_token(client, token["secret"]).get("/v1/users/me"))
    assert (me["id"], me["name"], me["email"]) == ("bob", "Bob", "bob@example.com")


async def test_an_admin_user_gets_an_admin_token(client: httpx.AsyncClient) -> None:
    created = await ok(await client.post("/v1/users", json={"id": "ops", "is_admin": True}), 201)
    assert created["token"]["scopes"] == ["read", "write", "admin"]
    ops = as_token(client, created["token"]["secret"])
    assert [u["id"] for u in (await ok(await ops.get("/v1/users")))["items"]] == ["admin", "ops"]


async def test_users_are_listed_without_the_system_user(client: httpx.AsyncClient) -> None:
    await create_user(client, "bob")
    users = await ok(await client.get("/v1/users"))
    assert [u["id"] for u in users["items"]] == ["admin", "bob"]
    expect_error(await client.get("/v1/users/system"), 404, "USER_NOT_FOUND")


async def test_the_users_api_is_for_admins_only(client: httpx.AsyncClient) -> None:
    bob = await create_user(client, "bob")
    for request in (
        bob.get("/v1/users"),
        bob.post("/v1/users", json={"id": "carol"}),
        bob.get("/v1/users/admin"),
        bob.patch("/v1/users/bob", json={"is_admin": True}),
        bob.delete("/v1/users/admin"),
    ):
        expect_error(await request, 403, "PERMISSION_DENIED")


async def test_a_user_reads_their_own_record(client: httpx.AsyncClient) -> None:
    bob = await create_user(client, "bob")
    assert (await ok(await bob.get("/v1/users/bob")))["id"] == "bob"
    assert (await ok(await bob.get("/v1/users/me")))["id"] == "bob"


async def test_an_admin_acting_with_a_token_without_the_admin_scope_is_not_an_admin(
    client: httpx.AsyncClient,
) -> None:
    plain = as_token(client, (await create_token(client, "plain"))["secret"])
    expect_error(await plain.get("/v1/users"), 403, "PERMISSION_DENIED")


async def test_a_second_user_with_the_same_id_is_a_conflict(client: httpx.AsyncClient) -> None:
    await create_user(client, "bob")
    expect_error(await client.post("/v1/users", json={"id": "bob"}), 409, "USER_ALREADY_EXISTS")


@pytest.mark.parametrize("user_id", ["system", "me"])
async def test_a_reserved_user_id_is_refused(client: httpx.AsyncClient, user_id: str) -> None:
    problem = expect_error(
        await client.post("/v1/users", json={"id": user_id}), 422, "INVALID_ARGUMENT"
    )
    assert problem["fields"] == {"id": "reserved"}


async def test_me_in_a_user_path_is_the_caller(client: httpx.AsyncClient) -> None:
    changed = await ok(await client.patch("/v1/users/me", json={"name": "The Admin"}))
    assert (changed["id"], changed["name"]) == ("admin", "The Admin")
    expect_error(await client.delete("/v1/users/me"), 409, "CONFLICT")


async def test_an_invalid_user_id_or_unknown_field_is_rejected_naming_it(
    client: httpx.AsyncClient,
) -> None:
    problem = expect_error(
        await client.post("/v1/users", json={"id": "bob smith"}), 422, "INVALID_ARGUMENT"
    )
    assert list(problem["fields"]) == ["id"]
    problem = expect_error(
        await client.post("/v1/users", json={"id": "bob", "role": "owner"}),
        422,
        "INVALID_ARGUMENT",
    )
    assert list(problem["fields"]) == ["role"]


async def test_an_unknown_user_is_not_found(client: httpx.AsyncClient) -> None:
    expect_error(await client.get("/v1/users/nobody"), 404, "USER_NOT_FOUND")
    expect_error(await client.delete("/v1/users/nobody"), 404, "USER_NOT_FOUND")


async def test_an_admin_changes_a_user_and_may_make_them_an_admin(
    client: httpx.AsyncClient,
) -> None:
    await create_user(client, "bob", name="Bob")
    changed = await ok(await client.patch("/v1/users/bob", json={"is_admin": True}))
    assert (changed["is_admin"], changed["name"]) == (True, "Bob")
    problem = expect_error(
        await client.patch("/v1/users/bob", json={"id": "robert"}), 422, "FIELD_IMMUTABLE"
    )
    assert problem["fields"] == {"id": "immutable"}


async def test_patch_with_null_resets_a_users_field_to_its_default(
    client: httpx.AsyncClient,
) -> None:
    await create_user(client, "bob", name="Bob", email="bob@example.com")
    changed = await ok(await client.patch("/v1/users/bob", json={"name": None}))
    assert (changed["name"], changed["email"]) == ("", "bob@example.com")


async def test_an_admin_cannot_remove_their_own_admin_rights_or_delete_themselves(
    client: httpx.AsyncClient,
) -> None:
    expect_error(await client.patch("/v1/users/admin", json={"is_admin": False}), 409, "CONFLICT")
    expect_error(await client.delete("/v1/users/admin"), 409, "CONFLICT")


async def test_a_user_who_owns_clusters_cannot_be_deleted(client: httpx.AsyncClient) -> None:
    bob = await create_user(client, "bob")
    await create_cluster(bob, "gpu-east")
    problem = expect_error(await client.delete("/v1/users/bob"), 409, "CONFLICT")
    assert "delete those first" in problem["message"]


async def test_a_deleted_user_is_gone_with_their_tokens(client: httpx.AsyncClient) -> None:
    bob = await create_user(client, "bob")
    assert (await client.delete("/v1/users/bob")).status_code == 204
    expect_error(await client.get("/v1/users/bob"), 404, "USER_NOT_FOUND")
    expect_error(await bob.get("/v1/users/me"), 401, "UNAUTHENTICATED")
