"""Signing in and out, the session cookie, CSRF, and where a missing session leads."""

from __future__ import annotations

import httpx

from flotilla.console.sessions import SessionStore
from flotilla.services.context import Context
from tests.console.browsing import console_client, csrf_of, field_error, sign_in, submit, text_of
from tests.console.conftest import Console
from tests.factories import create_token, create_user


async def test_a_page_without_a_session_redirects_to_sign_in(client: httpx.AsyncClient) -> None:
    async with console_client(client) as http:
        response = await http.get("/console/deployments")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/sign-in?next=/console/deployments"


async def test_a_live_fragment_without_a_session_answers_401(client: httpx.AsyncClient) -> None:
    async with console_client(client) as http:
        response = await http.get("/console?fragment=clusters")
    assert response.status_code == 401


async def test_the_root_leads_to_the_console(client: httpx.AsyncClient) -> None:
    async with console_client(client) as http:
        response = await http.get("/")
    assert response.status_code == 307
    assert response.headers["location"] == "/console"


async def test_signing_in_sets_an_http_only_same_site_session_cookie(
    client: httpx.AsyncClient, admin_token: str
) -> None:
    async with console_client(client) as http:
        form = await http.get("/console/sign-in?next=/console/models")
        response = await http.post(
            "/console/sign-in",
            data={
                "csrf_token": csrf_of(form.text),
                "token": admin_token,
                "next": "/console/models",
            },
        )
    assert response.status_code == 303
    assert response.headers["location"] == "/console/models"
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("flotilla_session=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/console" in cookie
    assert admin_token not in cookie  # the PAT stays on the server


async def test_a_bad_token_shows_the_apis_message_next_to_the_field(
    client: httpx.AsyncClient,
) -> None:
    async with console_client(client) as http:
        form = await http.get("/console/sign-in")
        response = await http.post(
            "/console/sign-in", data={"csrf_token": csrf_of(form.text), "token": "not-a-token"}
        )
        api = await http.get("/v1/users/me", headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401
    assert field_error(response.text, "token") == api.json()["error"]["message"]


async def test_signing_in_without_the_forms_token_is_refused(
    client: httpx.AsyncClient, admin_token: str
) -> None:
    async with console_client(client) as http:
        response = await http.post("/console/sign-in", data={"token": admin_token})
    assert response.status_code == 403
    assert "flotilla_session" not in response.headers.get("set-cookie", "")


async def test_an_open_redirect_after_sign_in_goes_to_the_console_instead(
    client: httpx.AsyncClient, admin_token: str
) -> None:
    async with console_client(client) as http:
        form = await http.get("/console/sign-in")
        response = await http.post(
            "/console/sign-in",
            data={"csrf_token": csrf_of(form.text), "token": admin_token, "next": "//evil.test/x"},
        )
    assert response.headers["location"] == "/console"


async def test_a_form_without_the_sessions_csrf_token_is_refused(console: Console) -> None:
    response = await console.http.post(
        "/console/clusters",
        data={"id": "sneaky", "cloud_provider": "local", "region": "local"},
    )
    assert response.status_code == 403
    assert "CSRF_REJECTED" in response.text
    forged = await submit(
        console.http, "/console/clusters", "forged", {"id": "sneaky", "cloud_provider": "local"}
    )
    assert forged.status_code == 403
    overview = await console.http.get("/console")
    assert "sneaky" not in overview.text


async def test_each_session_has_its_own_csrf_token(
    client: httpx.AsyncClient, admin_token: str, console: Console
) -> None:
    async with console_client(client) as other:
        other_csrf = await sign_in(other, admin_token)
    assert other_csrf != console.csrf
    response = await submit(console.http, "/console/sign-out", other_csrf, {})
    assert response.status_code == 403


async def test_signing_out_ends_the_session(console: Console) -> None:
    response = await submit(console.http, "/console/sign-out", console.csrf, {})
    assert response.status_code == 303
    assert response.headers["location"] == "/console/sign-in?ended=signed_out"
    again = await console.http.get("/console")
    assert again.status_code == 303


async def test_a_revoked_token_ends_its_session(client: httpx.AsyncClient, ctx: Context) -> None:
    token = await create_token(client, "browser")
    async with console_client(client) as http:
        await sign_in(http, token["secret"])
        revoked = await client.post("/v1/tokens/browser/revoke")
        assert revoked.status_code == 200
        ctx.token_cache.invalidate()
        response = await http.get("/console")
        assert response.status_code == 303
        assert "ended=revoked" in response.headers["location"]
        page = await http.get(response.headers["location"])
    assert "was revoked" in text_of(page.text)


async def test_a_read_only_token_signs_in_but_cannot_create(
    client: httpx.AsyncClient,
) -> None:
    bob = await create_user(client, "bob")
    reader = await create_token(bob, "reader", scopes=["read"])
    async with console_client(client) as http:
        csrf = await sign_in(http, reader["secret"])
        response = await submit(
            http,
            "/console/clusters",
            csrf,
            {"id": "c1", "cluster_type": "dedicated", "cloud_provider": "local", "region": "local"},
        )
    assert response.status_code == 403
    assert "lacks the &#39;write&#39; scope" in response.text


def test_sessions_end_when_idle_or_too_old() -> None:
    store = SessionStore()
    session = store.start("flt_secret", now=0.0)
    assert store.get(session.id, now=11 * 3600) is session
    assert store.get(session.id, now=11 * 3600 + 12 * 3600 + 1) is None
    old = store.start("flt_secret", now=0.0)
    for hour in range(1, 7 * 24 + 2, 6):
        store.get(old.id, now=hour * 3600.0)
    assert store.get(old.id, now=(7 * 24 + 2) * 3600.0) is None


def test_the_least_recently_used_session_goes_first_when_there_are_too_many() -> None:
    store = SessionStore(max_sessions=2)
    first, second = store.start("a", 0.0), store.start("b", 1.0)
    store.get(first.id, 2.0)
    store.start("c", 3.0)
    assert store.get(second.id, 4.0) is None
    assert store.get(first.id, 4.0) is first
