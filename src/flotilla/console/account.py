"""Signing in and out, Personal Access Tokens, and usage."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from flotilla.console.charts import bar_chart
from flotilla.console.sessions import (
    CSRF_FIELD,
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    new_sign_in_token,
    sign_in_token_matches,
)
from flotilla.console.templating import FormErrors, render
from flotilla.console.web import (
    PREFIX,
    SIGN_IN,
    ConsoleRoute,
    SignedIn,
    context,
    go,
    number,
    posted,
    read_form,
    safe_next,
    sessions,
    validate,
)
from flotilla.domain.errors import FlotillaError, InvalidArgument, Unauthenticated
from flotilla.domain.specs import TokenSpec
from flotilla.domain.states import Scope
from flotilla.services import tokens, usage, users
from flotilla.services.paging import MAX_PER_PAGE, PageParams
from flotilla.services.usage import GroupBy

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)
ALL = PageParams(per_page=MAX_PER_PAGE)
ENDED = {
    "revoked": "The token this session used was revoked. Sign in with another token.",
    "expired": "The token this session used has expired. Sign in with another token.",
    "invalid": "The token this session used no longer exists. Sign in with another token.",
    "signed_out": "You are signed out.",
}
USAGE_DAYS = (7, 14, 30)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or context(request).settings.url.startswith("https:")


def _sign_in_page(
    request: Request, next_url: str, errors: FormErrors, status_code: int = 200
) -> Response:
    token = new_sign_in_token()
    response = render(
        request,
        "sign_in.html",
        {
            "section": "",
            "user_id": None,
            "flashes": [],
            "csrf_token": token,
            "next": next_url,
            "ended": ENDED.get(request.query_params.get("ended", "")),
            "errors": errors,
        },
        status_code,
    )
    response.set_cookie(
        SIGN_IN_COOKIE,
        token,
        max_age=3600,
        path=PREFIX,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    return response


@router.get("/sign-in")
async def sign_in_form(request: Request, next: str = PREFIX) -> Response:
    ctx = context(request)
    if sessions(request).get(request.cookies.get(SESSION_COOKIE), ctx.clock.monotonic()):
        return go(safe_next(next))
    return _sign_in_page(request, safe_next(next), FormErrors())


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    ctx = context(request)
    form = await read_form(request)
    next_url = safe_next(form.get("next"))
    if not sign_in_token_matches(request.cookies.get(SIGN_IN_COOKIE), form.get(CSRF_FIELD)):
        expired = InvalidArgument("the sign-in form expired; paste your token again")
        return _sign_in_page(request, next_url, FormErrors(expired), 403)
    secret = form.get("token")
    try:
        if not secret:
            raise Unauthenticated("paste a Personal Access Token (it starts with 'flt_')")
        caller = await tokens.authenticate_cached(ctx, secret)
        caller.require(Scope.READ)
    except FlotillaError as error:
        error.fields = {"token": error.message}
        return _sign_in_page(request, next_url, FormErrors(error), error.http_status)
    store = sessions(request)
    store.end(request.cookies.get(SESSION_COOKIE, ""))  # never reuse a session id across sign-ins
    session = store.start(secret, ctx.clock.monotonic())
    session.flash(f"Signed in as {caller.user_id} (token '{caller.token_id}').")
    response = go(next_url)
    response.set_cookie(
        SESSION_COOKIE,
        session.id,
        path=PREFIX,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    response.delete_cookie(SIGN_IN_COOKIE, path=PREFIX)
    return response


@router.post("/sign-out")
async def sign_out(request: Request, visitor: SignedIn) -> Response:
    await posted(request, visitor)
    sessions(request).end(visitor.session.id)
    response = go(SIGN_IN + "?ended=signed_out")
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


@router.get("/tokens")
async def token_list(visitor: SignedIn) -> Response:
    ctx, caller = visitor.ctx, visitor.caller
    async with ctx.db.read() as s:
        found = await tokens.list_tokens(ctx, s, caller, ALL)
    new_secret, visitor.session.new_secret = visitor.session.new_secret, None
    return visitor.render("tokens.html", "tokens", tokens=found.items, new_secret=new_secret)


def _token_form(
    visitor: SignedIn, values: dict[str, Any], errors: FormErrors, status_code: int = 200
) -> Response:
    return visitor.render(
        "token_new.html",
        "tokens",
        status_code,
        values=values,
        errors=errors,
        is_admin=visitor.caller.is_admin,
        next=safe_next(values.get("next")) if values.get("next") else "",
    )


@router.get("/new/token")
async def token_new_form(visitor: SignedIn, next: str = "") -> Response:
    values = {"scopes": ["read", "write"], "next": next}
    return _token_form(visitor, values, FormErrors())


@router.post("/tokens")
async def token_create(request: Request, visitor: SignedIn) -> Response:
    form = await posted(request, visitor)
    ctx, caller = visitor.ctx, visitor.caller
    values: dict[str, Any] = {
        "id": form.get("id"),
        "description": form.get("description"),
        "scopes": form.getall("scopes"),
        "expires_in_days": form.get("expires_in_days"),
        "next": form.get("next"),
    }
    data: dict[str, Any] = {
        "id": values["id"] or None,
        "description": values["description"],
        "scopes": values["scopes"],
    }
    if values["expires_in_days"]:
        data["expires_in_days"] = number(values["expires_in_days"])
    try:
        spec = validate(TokenSpec, data)
        caller.require(Scope.WRITE)
        async with ctx.db.write() as s:
            user = await users.get_user_row(s, caller.user_id)
            created = await tokens.create_token(ctx, s, user, spec, granted_by=caller)
    except FlotillaError as error:
        return _token_form(visitor, values, FormErrors(error), error.http_status)
    back = safe_next(values["next"]) + f"?token_id={created.id}" if values["next"] else None
    visitor.session.new_secret = (created.id, created.secret, back)
    return go(PREFIX + "/tokens")


async def _token_delete_page(
    visitor: SignedIn, token_id: str, errors: FormErrors, status_code: int = 200
) -> Response:
    ctx = visitor.ctx
    async with ctx.db.read() as s:
        token = await tokens.get_token(ctx, s, visitor.caller, token_id)
    return visitor.render(
        "token_delete.html",
        "tokens",
        status_code,
        token=token,
        errors=errors,
        is_current=token.id == visitor.caller.token_id,
    )


@router.get("/tokens/{token_id}/delete")
async def token_delete_form(visitor: SignedIn, token_id: str) -> Response:
    return await _token_delete_page(visitor, token_id, FormErrors())


@router.post("/tokens/{token_id}/delete")
async def token_delete(request: Request, visitor: SignedIn, token_id: str) -> Response:
    form = await posted(request, visitor)
    ctx, caller = visitor.ctx, visitor.caller
    try:
        confirm_typed(form.get("confirm"), token_id)
        caller.require(Scope.WRITE)
        async with ctx.db.write() as s:
            await tokens.delete_token(ctx, s, caller, token_id)
    except FlotillaError as error:
        return await _token_delete_page(visitor, token_id, FormErrors(error), error.http_status)
    if token_id == caller.token_id:  # the session's own token is gone: so is the session
        sessions(request).end(visitor.session.id)
        response = go(SIGN_IN + "?ended=invalid")
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response
    visitor.session.flash(f"Token '{token_id}' deleted.")
    return go(PREFIX + "/tokens")


def confirm_typed(typed: str, object_id: str) -> None:
    """Deletes need the object's id typed: a slip of the mouse deletes nothing."""
    if typed != object_id:
        raise InvalidArgument(
            f"type '{object_id}' to confirm the delete",
            fields={"confirm": f"type '{object_id}' exactly"},
        )


@router.get("/usage")
async def usage_page(visitor: SignedIn, days: str = "7") -> Response:
    ctx, caller = visitor.ctx, visitor.caller
    period = int(days) if days.isdigit() and int(days) in USAGE_DAYS else USAGE_DAYS[0]
    now = ctx.now()
    today = datetime.combine(now.date(), time(), tzinfo=now.tzinfo)
    since = today - timedelta(days=period - 1)
    by_day = []
    async with ctx.db.read() as s:
        by_type = await usage.usage(ctx, s, caller, GroupBy.INSTANCE_TYPE, since, now)
        for i in range(period):
            start = since + timedelta(days=i)
            end = min(start + timedelta(days=1), now)
            if end <= start:  # the first instant of today: nothing to count yet
                by_day.append((start.strftime("%m-%d"), 0.0, 0.0))
                continue
            day = await usage.usage(ctx, s, caller, GroupBy.CAPACITY_TYPE, start, end)
            by_day.append(
                (start.strftime("%m-%d"), sum(r.node_hours for r in day.rows), day.total_cost)
            )
    return visitor.render(
        "usage.html",
        "usage",
        days=period,
        choices=USAGE_DAYS,
        since=since,
        until=now,
        by_type=by_type,
        by_day=by_day,
        total_hours=sum(r.node_hours for r in by_type.rows),
        cost_chart=bar_chart("Cost per day", [(d, c) for d, _, c in by_day], "USD"),
        hours_chart=bar_chart("Compute hours per day", [(d, h) for d, h, _ in by_day], "h"),
    )
