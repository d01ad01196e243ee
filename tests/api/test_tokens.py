"""/v1/tokens: Personal Access Tokens shown once, stored hashed, scoped; and the clusters that
act with a token stop when it goes, and come back when another is bound."""

from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa

from flotilla.domain.time import ManualClock
from flotilla.services.context import Context
from flotilla.store.tables import TokenRow
from tests.factories import (
    as_token,
    create_cluster,
    create_nodepool,
    create_token,
    create_user,
    expect_error,
    ok,
)

DAY = 86_400


async def test_a_new_tokens_secret_starts_with_flt_and_is_shown_only_at_creation(
    client: httpx.AsyncClient,
) -> None:
    created = await create_token(client, "ci", description="for CI")
    secret = created["secret"]
    assert secret.startswith("flt_")
    assert len(secret) >= len("flt_") + 43  # 32 random bytes, base64url
    assert created["prefix"] == secret[:10]
    assert created["status"] == "active"
    got = await ok(await client.get("/v1/tokens/ci"))
    assert "secret" not in got
    assert got["prefix"] == created["prefix"]
    listed = await ok(await client.get("/v1/tokens"))
    assert [t["id"] for t in listed["items"]] == ["admin", "ci"]
    assert all("secret" not in t for t in listed["items"])
    assert secret not in (await client.get("/v1/tokens")).text


async def test_the_store_keeps_a_hash_of_the_secret_never_the_secret(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    secret = (await create_token(client, "ci"))["secret"]
    async with ctx.db.read() as session:
        row = await session.scalar(sa.select(TokenRow).where(TokenRow.id == "ci"))
    assert row is not None
    stored = [str(getattr(row, column.key)) for column in TokenRow.__table__.columns]
    assert all(secret not in value for value in stored)
    assert row.secret_hash != secret


async def test_a_new_token_works_and_records_when_it_was_last_used(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    created = await create_token(client, "ci")
    assert created["last_used_at"] is None
    me = await ok(await as_token(client, created["secret"]).get("/v1/users/me"))
    assert me["id"] == "admin"
    used = await ok(await client.get("/v1/tokens/ci"))
    assert used["last_used_at"] == "2026-01-01T00:00:00Z"


async def test_a_read_only_token_may_read_but_not_write(client: httpx.AsyncClient) -> None:
    reader = as_token(client, (await create_token(client, "reader", scopes=["read"]))["secret"])
    await ok(await reader.get("/v1/compute_clusters"))
    body = {"id": "c", "cloud_provider": "aws", "region": "us-east-1"}
    problem = expect_error(
        await reader.post("/v1/compute_clusters", json=body), 403, "PERMISSION_DENIED"
    )
    assert "write" in problem["message"]
    expect_error(await reader.post("/v1/tokens", json={"id": "x"}), 403, "PERMISSION_DENIED")
    expect_error(await reader.delete("/v1/tokens/admin"), 403, "PERMISSION_DENIED")
    expect_error(
        await reader.post("/v1/apply", content=b"", headers={"Content-Type": "application/yaml"}),
        403,
        "PERMISSION_DENIED",
    )


async def test_an_unknown_scope_is_rejected_naming_it(client: httpx.AsyncClient) -> None:
    problem = expect_error(
        await client.post("/v1/tokens", json={"id": "x", "scopes": ["read", "root"]}),
        422,
        "INVALID_ARGUMENT",
    )
    assert "'root'" in problem["message"]


async def test_only_an_admin_may_hold_an_admin_token(client: httpx.AsyncClient) -> None:
    bob = await create_user(client, "bob")
    expect_error(
        await bob.post("/v1/tokens", json={"id": "root", "scopes": ["admin"]}),
        403,
        "PERMISSION_DENIED",
    )
    admin = await create_token(client, "ops", scopes=["read", "write", "admin"])
    assert admin["scopes"] == ["read", "write", "admin"]


async def test_a_token_without_a_name_gets_one(client: httpx.AsyncClient) -> None:
    created = await ok(await client.post("/v1/tokens", json={}), 201)
    assert created["id"].startswith("token-")


async def test_a_second_token_with_the_same_name_is_a_conflict(client: httpx.AsyncClient) -> None:
    await create_token(client, "ci")
    expect_error(await client.post("/v1/tokens", json={"id": "ci"}), 409, "TOKEN_ALREADY_EXISTS")


@pytest.mark.parametrize("days", [0, -1, 3651])
async def test_an_expiry_out_of_range_is_rejected(client: httpx.AsyncClient, days: int) -> None:
    problem = expect_error(
        await client.post("/v1/tokens", json={"id": "x", "expires_in_days": days}),
        422,
        "INVALID_ARGUMENT",
    )
    assert list(problem["fields"]) == ["expires_in_days"]


async def test_a_token_expires_after_its_days(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    created = await create_token(client, "short", expires_in_days=1)
    assert created["expires_at"] == "2026-01-02T00:00:00Z"
    clock.advance(DAY + 1)
    got = await ok(await client.get("/v1/tokens/short"))
    assert got["status"] == "expired"


async def test_revoking_a_token_answers_it_revoked_and_again_is_not_an_error(
    client: httpx.AsyncClient,
) -> None:
    await create_token(client, "ci")
    revoked = await ok(await client.post("/v1/tokens/ci/revoke"))
    assert revoked["status"] == "revoked"
    assert revoked["revoked_at"] == "2026-01-01T00:00:00Z"
    again = await ok(await client.post("/v1/tokens/ci/revoke"))
    assert again["revoked_at"] == revoked["revoked_at"]


async def test_a_deleted_token_leaves_the_list(client: httpx.AsyncClient) -> None:
    await create_token(client, "ci")
    response = await client.delete("/v1/tokens/ci")
    assert response.status_code == 204, response.text
    expect_error(await client.get("/v1/tokens/ci"), 404, "TOKEN_NOT_FOUND")
    assert [t["id"] for t in (await ok(await client.get("/v1/tokens")))["items"]] == ["admin"]


async def test_patch_changes_a_tokens_description(client: httpx.AsyncClient) -> None:
    await create_token(client, "ci", description="before")
    changed = await ok(await client.patch("/v1/tokens/ci", json={"description": "after"}))
    assert changed["description"] == "after"
    expect_error(
        await client.patch("/v1/tokens/ci", json={"scopes": ["admin"]}), 422, "INVALID_ARGUMENT"
    )


async def test_another_users_token_does_not_exist_for_you(client: httpx.AsyncClient) -> None:
    bob = await create_user(client, "bob")
    await create_token(client, "ci")
    for request in (
        bob.get("/v1/tokens/ci"),
        bob.patch("/v1/tokens/ci", json={"description": "mine"}),
        bob.post("/v1/tokens/ci/revoke"),
        bob.delete("/v1/tokens/ci"),
    ):
        expect_error(await request, 404, "TOKEN_NOT_FOUND")
    assert [t["id"] for t in (await ok(await bob.get("/v1/tokens")))["items"]] == ["initial"]
    assert (await ok(await client.get("/v1/tokens/ci")))["status"] == "active"


# -- clusters that act with a token ---------------------------------------------------------------


async def _cluster_acting_with(client: httpx.AsyncClient, token_id: str) -> None:
    await create_token(client, token_id)
    cluster = await create_cluster(client, "gpu-east", token_id=token_id)
    assert cluster["token_id"] == token_id
    await create_nodepool(client, "gpu-east", "a10-pool")


async def assert_stopped(client: httpx.AsyncClient, how: str) -> None:
    pool = await ok(await client.get("/v1/compute_clusters/gpu-east/nodepools/a10-pool"))
    assert pool["status"] == "error"
    assert pool["status_reason"].startswith("TOKEN_REVOKED"), pool["status_reason"]
    assert how in pool["status_reason"]
    cluster = await ok(await client.get("/v1/compute_clusters/gpu-east"))
    assert cluster["status"] == "error"
    assert cluster["status_reason"].startswith("TOKEN_REVOKED")


async def test_revoking_a_clusters_token_turns_its_nodepools_to_error(
    client: httpx.AsyncClient,
) -> None:
    await _cluster_acting_with(client, "ci")
    await ok(await client.post("/v1/tokens/ci/revoke"))
    await assert_stopped(client, "revoked")


async def test_deleting_a_clusters_token_turns_its_nodepools_to_error(
    client: httpx.AsyncClient,
) -> None:
    await _cluster_acting_with(client, "ci")
    assert (await client.delete("/v1/tokens/ci")).status_code == 204
    await assert_stopped(client, "deleted")
    cluster = await ok(await client.get("/v1/compute_clusters/gpu-east"))
    assert cluster["token_id"] is None


async def test_the_expiry_of_a_clusters_token_turns_its_nodepools_to_error(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    await create_token(client, "short", expires_in_days=1)
    await create_cluster(client, "gpu-east", token_id="short")
    await create_nodepool(client, "gpu-east", "a10-pool")
    clock.advance(DAY)
    await assert_stopped(client, "expired")


async def test_binding_a_valid_token_again_restores_a_stopped_cluster(
    client: httpx.AsyncClient,
) -> None:
    await _cluster_acting_with(client, "ci")
    await ok(await client.post("/v1/tokens/ci/revoke"))
    await create_token(client, "ci-2")
    cluster = await ok(
        await client.patch("/v1/compute_clusters/gpu-east", json={"token_id": "ci-2"})
    )
    assert (cluster["status"], cluster["token_id"]) == ("active", "ci-2")
    pool = await ok(await client.get("/v1/compute_clusters/gpu-east/nodepools/a10-pool"))
    assert (pool["status"], pool["status_reason"]) == ("ready", None)


async def test_the_token_list_names_the_clusters_acting_with_each_token(
    client: httpx.AsyncClient,
) -> None:
    await _cluster_acting_with(client, "ci")
    token = await ok(await client.get("/v1/tokens/ci"))
    assert token["compute_clusters"] == ["gpu-east"]


async def test_revoking_a_clusters_token_is_recorded_as_an_event_of_the_cluster(
    client: httpx.AsyncClient,
) -> None:
    await _cluster_acting_with(client, "ci")
    await ok(await client.post("/v1/tokens/ci/revoke"))
    events = await ok(await client.get("/v1/events?object_kind=compute_cluster&object_id=gpu-east"))
    assert events["items"][0]["reason"] == "TOKEN_REVOKED"
    assert events["items"][0]["type"] == "warning"


@pytest.mark.parametrize("scopes", [["read"]])
async def test_a_cluster_cannot_act_with_a_read_only_token(
    client: httpx.AsyncClient, scopes: list[str]
) -> None:
    await create_token(client, "reader", scopes=scopes)
    body = {"id": "c", "cloud_provider": "aws", "region": "us-east-1", "token_id": "reader"}
    problem = expect_error(
        await client.post("/v1/compute_clusters", json=body), 422, "TOKEN_NOT_USABLE"
    )
    assert list(problem["fields"]) == ["token_id"]


async def test_a_cluster_cannot_be_bound_to_a_revoked_token(client: httpx.AsyncClient) -> None:
    await _cluster_acting_with(client, "ci")
    await create_token(client, "old")
    await ok(await client.post("/v1/tokens/old/revoke"))
    problem = expect_error(
        await client.patch("/v1/compute_clusters/gpu-east", json={"token_id": "old"}),
        422,
        "TOKEN_NOT_USABLE",
    )
    assert problem["fields"] == {"token_id": "revoked"}


async def test_a_cluster_cannot_act_with_another_users_token(client: httpx.AsyncClient) -> None:
    bob = await create_user(client, "bob")
    body = {"id": "c", "cloud_provider": "aws", "region": "us-east-1", "token_id": "admin"}
    expect_error(await bob.post("/v1/compute_clusters", json=body), 404, "TOKEN_NOT_FOUND")
