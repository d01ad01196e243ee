"""Models and deployments: upload, deploy, the deployment page (replicas, traffic, logs, cost,
"Try it"), deletes."""

from __future__ import annotations

import time

import httpx
import sqlalchemy as sa

from flotilla.services import logs
from flotilla.services.context import Context
from flotilla.store.tables import DeploymentRow, TrafficSampleRow
from tests.console.browsing import field_error, submit, text_of
from tests.console.conftest import Console
from tests.factories import (
    add_running_replica,
    create_cluster,
    create_deployment,
    create_nodepool,
    echo_package,
    package,
    upload_model,
)


async def upload(
    console: Console, model_id: str, body: bytes, csrf: str | None = None
) -> httpx.Response:
    return await console.http.post(
        f"/console/models?model_id={model_id}",
        content=body,
        headers={
            "Content-Type": "application/gzip",
            "X-CSRF-Token": console.csrf if csrf is None else csrf,
            "X-Requested-With": "fetch",
        },
    )


async def test_uploading_a_package_makes_a_version_and_leads_to_the_model(
    console: Console, client: httpx.AsyncClient
) -> None:
    response = await upload(console, "echo", echo_package("echo"))
    assert response.status_code == 200, response.text
    assert response.json()["redirect"] == "/console/models/echo"
    version = response.json()["version"]
    page = await console.http.get("/console/models/echo")
    text = text_of(page.text)
    assert f"Version {version} of 'echo' uploaded" in text
    assert version in text and "model.py:Echo" in text and "250m CPU, 128Mi" in text
    assert f"/console/new/deployment?model=echo&amp;version={version}" in page.text
    listing = await console.http.get("/console/models")
    assert "echo" in text_of(listing.text)
    api = await client.get("/v1/models/echo/versions")
    assert [v["id"] for v in api.json()["items"]] == [version]


async def test_a_broken_package_answers_the_apis_error_for_the_file_field(
    console: Console, client: httpx.AsyncClient
) -> None:
    broken = package({"model.py": b"x = 1\n"})
    response = await upload(console, "echo", broken)
    api = await client.post(
        "/v1/models/echo/versions", content=broken, headers={"Content-Type": "application/gzip"}
    )
    assert response.status_code == api.status_code == 422
    error = response.json()["error"]
    assert error["code"] == api.json()["error"]["code"] == "PACKAGE_INVALID"
    assert error["message"] == api.json()["error"]["message"]
    assert error["fields"]["package"] == error["message"]


async def test_a_bad_model_id_is_reported_at_the_id_field(console: Console) -> None:
    response = await upload(console, "no%20spaces", echo_package("echo"))
    assert response.status_code == 422
    assert "id" in response.json()["error"]["fields"]


async def test_an_upload_without_the_csrf_header_is_refused(console: Console) -> None:
    response = await upload(console, "echo", echo_package("echo"), csrf="")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "CSRF_REJECTED"


async def test_deploying_from_the_form_creates_the_deployment_with_its_settings(
    console: Console, client: httpx.AsyncClient
) -> None:
    await create_cluster(client, "gpu-east")
    await create_nodepool(client, "gpu-east", "a10-pool")
    await upload_model(client, "echo")
    form = await console.http.get("/console/new/deployment?model=echo")
    assert form.status_code == 200
    assert 'value="gpu-east/a10-pool"' in form.text and 'value="shared/default"' in form.text
    data = {
        "id": "echo-prod",
        "model": "echo",
        "model_version": "latest",
        "pools": ["gpu-east/a10-pool", "shared/default"],
        "priority:gpu-east/a10-pool": "9",
        "priority:shared/default": "1",
        "scheduling_choice": "priority",
        "autoscale_config.min_replicas": "1",
        "autoscale_config.max_replicas": "3",
        "autoscale_config.target_concurrency": "2.5",
        "autoscale_config.scale_down_delay_seconds": "60",
        "autoscale_config.scale_to_zero_delay_seconds": "600",
    }
    response = await submit(console.http, "/console/deployments", console.csrf, data)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/console/deployments/echo-prod"
    api = (await client.get("/v1/deployments/echo-prod")).json()
    assert api["nodepools"] == [
        {"compute_cluster": "gpu-east", "nodepool": "a10-pool", "priority": 9},
        {"compute_cluster": "shared", "nodepool": "default", "priority": 1},
    ]
    assert api["autoscale_config"]["target_concurrency"] == 2.5
    assert api["autoscale_config"]["min_replicas"] == 1


async def test_deploy_form_errors_are_the_apis_beside_their_fields(
    console: Console, client: httpx.AsyncClient
) -> None:
    await upload_model(client, "echo", cpu="64")  # fits on no local-small
    await create_cluster(client, "small", cloud_provider="local", region="local")
    await create_nodepool(client, "small", "tiny", instance_types=["local-small"])
    data = {
        "id": "echo-prod",
        "model": "echo",
        "pools": ["small/tiny"],
        "autoscale_config.min_replicas": "4",
        "autoscale_config.max_replicas": "2",
    }
    page = await submit(console.http, "/console/deployments", console.csrf, data)
    assert page.status_code == 422
    assert field_error(page.text, "autoscale_config-min_replicas") == (
        "min_replicas (4) must not exceed max_replicas (2)"
    )
    data["autoscale_config.min_replicas"] = "0"
    page = await submit(console.http, "/console/deployments", console.csrf, data)
    api = await client.post(
        "/v1/deployments",
        json={
            "id": "echo-prod",
            "model": "echo",
            "nodepools": [{"compute_cluster": "small", "nodepool": "tiny"}],
        },
    )
    assert page.status_code == api.status_code == 422
    assert (
        field_error(page.text, "pool-small--tiny") == api.json()["error"]["fields"]["nodepools.0"]
    )


async def test_the_deployment_page_shows_replicas_autoscaling_charts_logs_and_try_it(
    console: Console, client: httpx.AsyncClient, ctx: Context
) -> None:
    await upload_model(client, "echo")
    await create_deployment(client, "echo-prod", autoscale_config={"max_replicas": 3})
    await add_running_replica(ctx, "echo-prod")
    replica = (await client.get("/v1/deployments/echo-prod/replicas")).json()["items"][0]
    logs.append(
        ctx.settings, [logs.LogLine(replica["id"], time.time(), "stdout", "loaded Echo in 0.01s")]
    )
    page = await console.http.get("/console/deployments/echo-prod")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "1 of 1 replicas ready" in text
    assert replica["id"] in text
    assert "shared/default" in text and "0 to 3" in text
    assert "loaded Echo in 0.01s" in text
    assert "DEPLOYMENT_CREATED" in text
    assert page.text.count('<svg class="chart"') == 2
    assert 'id="try-form"' in page.text and "Cost so far" in text


async def test_traffic_samples_are_drawn_as_lines(
    console: Console, client: httpx.AsyncClient, ctx: Context
) -> None:
    await upload_model(client, "echo")
    await create_deployment(client, "echo-prod")
    now = ctx.now().timestamp()
    async with ctx.db.write() as s:
        pk = await s.scalar(sa.select(DeploymentRow.pk).where(DeploymentRow.id == "echo-prod"))
        s.add_all(  # five minutes of a gateway's reports, 10 s each, 1 then 2 requests/s
            TrafficSampleRow(
                deployment_pk=pk,
                gateway="gw",
                start_s=now - 300 + i * 10,
                end_s=now - 300 + (i + 1) * 10,
                in_flight=1.0,
                arrivals=10 if i < 15 else 20,
                held=0,
                latency_ms_p50=2.0,
                latency_ms_p99=9.0,
            )
            for i in range(30)
        )
    traffic = await console.http.get("/console/deployments/echo-prod?fragment=traffic")
    assert traffic.status_code == 200
    assert "450 requests, 0 errors" in text_of(traffic.text)
    assert traffic.text.count("<polyline") == 4  # requests, errors, p50, p99
    assert "requests/s: peak 2 req/s, latest 2 req/s" in traffic.text
    assert "p99: peak 9 ms" in traffic.text


async def test_try_it_reports_a_gateway_that_does_not_answer(
    console: Console, client: httpx.AsyncClient
) -> None:
    await upload_model(client, "echo")
    await create_deployment(client, "echo-prod")
    response = await console.http.post(
        "/console/deployments/echo-prod/predict",
        data={"inputs": '{"x": 1}'},
        headers={"X-CSRF-Token": console.csrf, "X-Requested-With": "fetch"},
    )
    assert response.status_code == 200
    assert response.json()["status"] == 502
    assert "did not answer" in response.json()["body"]["error"]["message"]


async def test_try_it_with_inputs_that_are_not_json_says_so_at_the_field(
    console: Console, client: httpx.AsyncClient
) -> None:
    await upload_model(client, "echo")
    await create_deployment(client, "echo-prod")
    page = await submit(
        console.http, "/console/deployments/echo-prod/predict", console.csrf, {"inputs": "{oops"}
    )
    assert page.status_code == 422
    assert field_error(page.text, "inputs") == "not valid JSON"


async def test_the_deployments_list_follows_replica_states(
    console: Console, client: httpx.AsyncClient, ctx: Context
) -> None:
    await upload_model(client, "echo")
    await create_deployment(client, "echo-prod")
    before = await console.http.get("/console/deployments?fragment=deployments")
    await add_running_replica(ctx, "echo-prod")
    after = await console.http.get("/console/deployments?fragment=deployments")
    assert "echo-prod" in before.text
    assert "1 ready" in text_of(after.text) and "1 ready" not in text_of(before.text)


async def test_deleting_a_deployment_and_then_its_model_need_their_ids_typed(
    console: Console, client: httpx.AsyncClient
) -> None:
    await upload_model(client, "echo")
    await create_deployment(client, "echo-prod")
    in_use = await submit(
        console.http, "/console/models/echo/delete", console.csrf, {"confirm": "echo"}
    )
    assert in_use.status_code == 409 and "MODEL_IN_USE" in in_use.text
    wrong = await submit(
        console.http, "/console/deployments/echo-prod/delete", console.csrf, {"confirm": "echo"}
    )
    assert wrong.status_code == 422
    done = await submit(
        console.http,
        "/console/deployments/echo-prod/delete",
        console.csrf,
        {"confirm": "echo-prod"},
    )
    assert done.status_code == 303
    gone = await submit(
        console.http, "/console/models/echo/delete", console.csrf, {"confirm": "echo"}
    )
    assert gone.status_code == 303
    assert (await client.get("/v1/models/echo")).status_code == 404


async def test_another_users_deployment_is_not_found(
    console: Console, client: httpx.AsyncClient
) -> None:
    page = await console.http.get("/console/deployments/nobodys")
    assert page.status_code == 404
    assert "no deployment &#39;nobodys&#39;" in page.text
