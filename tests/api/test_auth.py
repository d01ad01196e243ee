"""Who may call: a missing, malformed, unknown, expired or revoked token answers 401 with a code
that says which; health checks need none; routes and methods that do not exist say so."""

from __future__ import annotations

import httpx
import pytest

from flotilla.domain.time import ManualClock
from tests.factories import as_token, create_token, create_user, expect_error, ok

DAY = 86_400
ROUTES = [
    ("GET", "/v1/compute_clusters"),
    ("POST", "/v1/compute_clusters"),
    ("GET", "/v1/compute_clusters/shared/nodepools/default"),
    ("GET", "/v1/deployments"),
    ("GET", "/v1/models"),
    ("POST", "/v1/models/echo/versions"),
    ("GET", "/v1/tokens"),
    ("GET", "/v1/users/me"),
    ("GET", "/v1/instance_types"),
    ("GET", "/v1/events"),
    ("POST", "/v1/apply"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_a_request_without_a_token_is_unauthenticated(
    anonymous: httpx.AsyncClient, method: str, path: str
) -> None:
    problem = expect_error(await anonymous.request(method, path), 401, "UNAUTHENTICATED")
    assert "Authorization: Bearer" in problem["message"]


@pytest.mark.parametrize(
    "header",
    [
        "Bearer not-a-flotilla-token",
        "Bearer flt_",
        "Bearer flt_" + "A" * 43,  # well formed, but nobody's
        "Basic YWRtaW46YWRtaW4=",
        "Bearer",
    ],
    ids=["malformed", "prefix-only", "unknown", "basic-auth", "empty-bearer"],
)
async def test_a_token_that_is_not_one_of_ours_is_unauthenticated(
    anonymous: httpx.AsyncClient, header: str
) -> None:
    response = await anonymous.get("/v1/compute_clusters", headers={"Authorization": header})
    expect_error(response, 401, "UNAUTHENTICATED")


async def test_a_secret_with_a_changed_character_is_unauthenticated(
    client: httpx.AsyncClient,
) -> None:
    secret = (await create_token(client, "ci"))["secret"]
    forged = secret[:-1] + ("A" if secret[-1] != "A" else "B")  # same lookup prefix
    expect_error(await as_token(client, forged).get("/v1/users/me"), 401, "UNAUTHENTICATED")


async def test_an_expired_token_is_refused_as_expired(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    short = as_token(client, (await create_token(client, "short", expires_in_days=1))["secret"])
    await ok(await short.get("/v1/users/me"))
    clock.advance(DAY - 1)
    await ok(await short.get("/v1/users/me"))
    clock.advance(1)
    problem = expect_error(await short.get("/v1/users/me"), 401, "TOKEN_EXPIRED")
    assert "short" in problem["message"]


async def test_a_revoked_token_is_refused_at_once_as_revoked(client: httpx.AsyncClient) -> None:
    ci = as_token(client, (await create_token(client, "ci"))["secret"])
    await ok(await ci.get("/v1/users/me"))  # now in the token cache
    await ok(await client.post("/v1/tokens/ci/revoke"))
    expect_error(await ci.get("/v1/users/me"), 401, "TOKEN_REVOKED")


async def test_a_token_may_revoke_itself_and_then_stops_working(client: httpx.AsyncClient) -> None:
    ci = as_token(client, (await create_token(client, "ci"))["secret"])
    await ok(await ci.post("/v1/tokens/ci/revoke"))
    expect_error(await ci.get("/v1/tokens"), 401, "TOKEN_REVOKED")


async def test_a_deleted_token_is_unauthenticated(client: httpx.AsyncClient) -> None:
    ci = as_token(client, (await create_token(client, "ci"))["secret"])
    await ok(await ci.get("/v1/users/me"))
    assert (await client.delete("/v1/tokens/ci")).status_code == 204
    expect_error(await ci.get("/v1/users/me"), 401, "UNAUTHENTICATED")


async def test_a_deleted_users_token_is_unauthenticated(client: httpx.AsyncClient) -> None:
    bob = await create_user(client, "bob")
    await ok(await bob.get("/v1/users/me"))
    assert (await client.delete("/v1/users/bob")).status_code == 204
    expect_error(await bob.get("/v1/users/me"), 401, "UNAUTHENTICATED")


async def test_health_checks_need_no_token(anonymous: httpx.AsyncClient) -> None:
    assert (await ok(await anonymous.get("/healthz")))["status"] == "ok"
    assert (await ok(await anonymous.get("/readyz")))["status"] == "ready"


async def test_an_unknown_route_is_not_found_with_a_code(client: httpx.AsyncClient) -> None:
    expect_error(await client.get("/v1/clusters"), 404, "ROUTE_NOT_FOUND")


async def test_a_method_a_route_does_not_take_lists_every_method_it_does(
    client: httpx.AsyncClient,
) -> None:
    response = await client.put("/v1/compute_clusters/shared")
    expect_error(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["allow"] == "DELETE, GET, PATCH"
    listing = await client.delete("/v1/compute_clusters")
    expect_error(listing, 405, "METHOD_NOT_ALLOWED")
    assert listing.headers["allow"] == "GET, POST"
