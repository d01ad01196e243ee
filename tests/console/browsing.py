"""Using the console as a browser would, over ASGI: sign in, read the CSRF token, post forms."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(page: str) -> str:
    found = CSRF.search(page)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def text_of(page: str) -> str:
    """The page's visible text, tags dropped and whitespace folded (for 'shows' assertions)."""
    without = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", without)).split())


def field_error(page: str, field_id: str) -> str:
    """The error shown beside a field (empty when none)."""
    found = re.search(
        rf'<p class="field-error" id="{re.escape(field_id)}-error"[^>]*>(.*?)</p>', page, re.S
    )
    return html.unescape(found.group(1)).strip() if found else ""


async def sign_in(http: httpx.AsyncClient, token: str) -> str:
    """Sign in with ``token``; returns the session's CSRF token."""
    form = await http.get("/console/sign-in")
    response = await http.post(
        "/console/sign-in",
        data={"csrf_token": csrf_of(form.text), "token": token, "next": "/console"},
    )
    assert response.status_code == 303, response.text
    page = await http.get("/console")
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


async def submit(
    http: httpx.AsyncClient, url: str, csrf: str, data: dict[str, Any]
) -> httpx.Response:
    return await http.post(url, data={"csrf_token": csrf, **data})


def console_client(api: httpx.AsyncClient) -> httpx.AsyncClient:
    """A browser-like client of the same app: no Authorization header, cookies kept."""
    return httpx.AsyncClient(transport=api._transport, base_url=str(api.base_url))
