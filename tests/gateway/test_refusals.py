"""What the gateway answers instead of a prediction, in Flotilla's error shape."""

from __future__ import annotations

from tests.factories import (
    create_cluster,
    create_nodepool,
    create_token,
    create_user,
    expect_error,
    ok,
)
from tests.gateway.conftest import GatewayFactory, Stack, routes_settled

ON_A10 = [{"compute_cluster": "gpu-east", "nodepool": "a10-pool"}]


async def test_a_deployment_whose_cluster_token_is_revoked_answers_compute_stopped(
    stack: Stack, gateway: GatewayFactory
) -> None:
    await create_token(stack.api, "ci")
    await create_cluster(stack.api, "gpu-east", token_id="ci")
    await create_nodepool(stack.api, "gpu-east", "a10-pool")
    await stack.deploy("echo", nodepools=ON_A10)
    replica = await stack.stand_in()
    await stack.add_replica("echo", replica.endpoint)
    await ok(await stack.api.post("/v1/tokens/ci/revoke"))
    async with gateway() as (gw, client):
        await routes_settled(gw, "echo", 0)
        response = await client.post("/v1/deployments/echo/predict", json={"inputs": 1})
    error = expect_error(response, 503, "COMPUTE_STOPPED")
    assert error["message"].startswith("TOKEN_REVOKED: gpu-east/a10-pool")
    assert replica.served == 0


async def test_another_users_deployment_does_not_exist(
    stack: Stack, gateway: GatewayFactory
) -> None:
    await stack.deploy("echo")
    bob = await create_user(stack.api, "bob")
    bob_token = bob.headers["Authorization"].split()[1]
    async with gateway() as (gw, client):
        await routes_settled(gw, "echo", 0)
        as_bob = {"Authorization": f"Bearer {bob_token}"}
        body = {"inputs": 1}
        for path in ("/v1/deployments/echo/predict", "/v1/users/admin/deployments/echo/predict"):
            response = await client.post(path, json=body, headers=as_bob)
            expect_error(response, 404, "DEPLOYMENT_NOT_FOUND")
        response = await client.post("/v1/users/bob/deployments/echo/predict", json=body)
        expect_error(response, 404, "DEPLOYMENT_NOT_FOUND")
    await bob.aclose()


async def test_a_bad_token_is_refused_with_the_servers_code(
    stack: Stack, gateway: GatewayFactory
) -> None:
    await stack.deploy("echo")
    revoked = await create_token(stack.api, "old")
    await ok(await stack.api.post("/v1/tokens/old/revoke"))
    async with gateway() as (gw, client):
        await routes_settled(gw, "echo", 0)
        path, body = "/v1/deployments/echo/predict", {"inputs": 1}
        bogus = await client.post(path, json=body, headers={"Authorization": "Bearer flt_nope"})
        expect_error(bogus, 401, "UNAUTHENTICATED")
        again = await client.post(path, json=body, headers={"Authorization": "Bearer flt_nope"})
        expect_error(again, 401, "UNAUTHENTICATED")  # from the negative cache
        gone = await client.post(
            path, json=body, headers={"Authorization": f"Bearer {revoked['secret']}"}
        )
        expect_error(gone, 401, "TOKEN_REVOKED")
        missing = await client.post(path, json=body, headers={"Authorization": ""})
        expect_error(missing, 401, "UNAUTHENTICATED")


async def test_a_disabled_deployment_answers_409(stack: Stack, gateway: GatewayFactory) -> None:
    await stack.deploy("echo")
    await ok(await stack.api.patch("/v1/deployments/echo", json={"status": "disabled"}))
    async with gateway() as (gw, client):
        await routes_settled(gw, "echo", 0)
        response = await client.post("/v1/deployments/echo/predict", json={"inputs": 1})
    expect_error(response, 409, "DEPLOYMENT_DISABLED")


async def test_malformed_requests_are_refused_before_any_replica(
    stack: Stack, gateway: GatewayFactory
) -> None:
    await stack.deploy("echo")
    replica = await stack.stand_in()
    await stack.add_replica("echo", replica.endpoint)
    async with gateway(max_body_bytes=1024) as (gw, client):
        await routes_settled(gw, "echo", 1)
        path = "/v1/deployments/echo/predict"
        expect_error(await client.post(path, content=b"{not json"), 400, "MALFORMED_REQUEST")
        expect_error(await client.post(path, json={"input": 1}), 422, "INVALID_ARGUMENT")
        large = {"inputs": "x" * 2000}
        expect_error(await client.post(path, json=large), 413, "BODY_TOO_LARGE")
        expect_error(await client.get(path), 405, "METHOD_NOT_ALLOWED")
        expect_error(await client.post("/v1/nothing", json={}), 404, "ROUTE_NOT_FOUND")
        unknown = await client.post("/v1/deployments/nope/predict", json={"inputs": 1})
        expect_error(unknown, 404, "DEPLOYMENT_NOT_FOUND")
    assert replica.served == 0


async def test_a_token_of_another_scope_still_predicts(
    stack: Stack, gateway: GatewayFactory
) -> None:
    """Any valid token may predict on its user's deployments; the gateway's own is admin."""
    await stack.deploy("echo")
    replica = await stack.stand_in()
    await stack.add_replica("echo", replica.endpoint)
    reader = await create_token(stack.api, "reader", scopes=["read"])
    async with gateway() as (gw, client):
        await routes_settled(gw, "echo", 1)
        response = await client.post(
            "/v1/deployments/echo/predict",
            json={"inputs": 2},
            headers={"Authorization": f"Bearer {reader['secret']}"},
        )
    assert response.json() == {"outputs": 2}
