"""Tokens (secret shown once, delete naming the clusters that stop) and usage."""

from __future__ import annotations

from datetime import timedelta

import httpx
import sqlalchemy as sa

from flotilla.domain.time import ManualClock
from flotilla.services.context import Context
from flotilla.store.tables import UsageRecordRow, UserRow
from tests.console.browsing import console_client, field_error, sign_in, submit, text_of
from tests.console.conftest import Console
from tests.factories import create_cluster, create_token


async def test_a_new_tokens_secret_is_shown_once(
    console: Console, client: httpx.AsyncClient
) -> None:
    form = await console.http.get("/console/new/token")
    assert form.status_code == 200 and 'value="admin"' in form.text  # admins may grant admin
    response = await submit(
        console.http,
        "/console/tokens",
        console.csrf,
        {"id": "ci-deploy", "scopes": ["read", "write"], "expires_in_days": "30"},
    )
    assert response.status_code == 303
    first = await console.http.get("/console/tokens")
    secret = first.text.split('id="new-secret" class="secret-value">')[1].split("<")[0]
    assert secret.startswith("flt_")
    me = await client.get("/v1/users/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200
    second = await console.http.get("/console/tokens")
    assert secret not in second.text
    assert "ci-deploy" in text_of(second.text)


async def test_token_form_errors_are_the_apis(console: Console, client: httpx.AsyncClient) -> None:
    bad = {"id": "x", "scopes": ["read"], "expires_in_days": "0"}
    page = await submit(console.http, "/console/tokens", console.csrf, bad)
    api = await client.post(
        "/v1/tokens", json={"id": "x", "scopes": ["read"], "expires_in_days": 0}
    )
    assert page.status_code == 422
    assert (
        field_error(page.text, "expires_in_days")
        == api.json()["error"]["fields"]["expires_in_days"]
    )


async def test_a_token_made_while_creating_a_cluster_leads_back_to_it(console: Console) -> None:
    response = await submit(
        console.http,
        "/console/tokens",
        console.csrf,
        {"id": "for-cluster", "scopes": ["read", "write"], "next": "/console/new/cluster"},
    )
    assert response.headers["location"] == "/console/tokens"
    tokens = await console.http.get("/console/tokens")
    assert 'href="/console/new/cluster?token_id=for-cluster"' in tokens.text
    form = await console.http.get("/console/new/cluster?token_id=for-cluster")
    assert '<option value="for-cluster" selected>' in form.text


async def test_deleting_a_token_names_the_clusters_that_stop_and_needs_its_id(
    console: Console, client: httpx.AsyncClient
) -> None:
    await create_token(client, "robot")
    await create_cluster(client, "gpu-east", token_id="robot")
    await create_cluster(client, "gpu-west", region="us-west-2", token_id="robot")
    confirm = await console.http.get("/console/tokens/robot/delete")
    assert "will stop working: gpu-east, gpu-west" in text_of(confirm.text)
    wrong = await submit(
        console.http, "/console/tokens/robot/delete", console.csrf, {"confirm": "bot"}
    )
    assert wrong.status_code == 422
    done = await submit(
        console.http, "/console/tokens/robot/delete", console.csrf, {"confirm": "robot"}
    )
    assert done.status_code == 303
    cluster = await client.get("/v1/compute_clusters/gpu-east")
    assert cluster.json()["status"] == "error"


async def test_deleting_the_token_of_the_session_signs_out(
    client: httpx.AsyncClient,
) -> None:
    token = await create_token(client, "browser")
    async with console_client(client) as http:
        csrf = await sign_in(http, token["secret"])
        confirm = await http.get("/console/tokens/browser/delete")
        assert "deleting it signs you out" in text_of(confirm.text)
        done = await submit(http, "/console/tokens/browser/delete", csrf, {"confirm": "browser"})
        assert done.headers["location"] == "/console/sign-in?ended=invalid"
        assert (await http.get("/console")).status_code == 303


async def test_usage_shows_cost_and_hours_by_instance_type_and_by_day(
    client: httpx.AsyncClient, admin_token: str, ctx: Context, clock: ManualClock
) -> None:
    clock.advance(3 * 86400 + 12 * 3600)  # noon, three days in
    now = ctx.now()
    async with ctx.db.write() as s:
        admin = await s.scalar(sa.select(UserRow.pk).where(UserRow.id == "admin"))
        assert admin is not None
        for days_ago, itype, hours, price in ((1, "g5.xlarge", 10, 1.0), (0, "m5.large", 2, 0.1)):
            start = now - timedelta(days=days_ago, hours=hours)
            s.add(
                UsageRecordRow(
                    owner_pk=admin,
                    compute_cluster="gpu-east",
                    nodepool="pool",
                    node=f"n-{itype}",
                    instance_type=itype,
                    capacity_type="on_demand",
                    start_at=start,
                    end_at=start + timedelta(hours=hours),
                    seconds=hours * 3600.0,
                    price_per_hour=price,
                    cost=hours * price,
                )
            )
    async with console_client(client) as http:
        await sign_in(http, admin_token)
        page = await http.get("/console/usage?days=7")
        other = await http.get("/console/usage?days=oops")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "$10.20 for 12.00 h of compute" in text
    assert "g5.xlarge 10.00 h $10.00" in text
    assert "m5.large 2.00 h $0.20" in text
    assert "01-04 2.00 h $0.20" in text  # today
    assert "01-03 10.00 h $10.00" in text
    assert page.text.count('<svg class="chart"') == 2
    assert (
        other.status_code == 200
        and 'href="/console/usage?days=7" aria-current="page"' in other.text
    )
