"""What every console page shares: who is signed in, forms with their CSRF check, and the route
class that turns errors into pages (a sign-in redirect, a refused form, a "not found" page)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qs, quote

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from flotilla.console.sessions import (
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    Session,
    SessionStore,
)
from flotilla.console.templating import render
from flotilla.domain.errors import (
    CsrfRejected,
    FlotillaError,
    MalformedRequest,
    TokenExpired,
    TokenRevoked,
    Unauthenticated,
    UnsupportedMediaType,
)
from flotilla.domain.states import Scope
from flotilla.services import tokens
from flotilla.services.context import Caller, Context
from flotilla.services.lookup import invalid

S = TypeVar("S", bound=BaseModel)

PREFIX = "/console"
SIGN_IN = PREFIX + "/sign-in"


class SignInRequired(Exception):
    """No live session: pages redirect to sign-in, fragments answer 401."""

    def __init__(self, ended: str | None = None) -> None:
        super().__init__(ended or "sign in")
        self.ended = ended


def sessions(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.console_sessions
    return store


def context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


@dataclass
class Visitor:
    """A signed-in user: the service context, the caller their token stands for, the session."""

    ctx: Context
    caller: Caller
    session: Session
    request: Request

    def page(self, section: str, **values: Any) -> dict[str, Any]:
        """Template values every page has (flashes only on a full page, not a live fragment)."""
        full = not is_fragment(self.request)
        return {
            "section": section,
            "user_id": self.caller.user_id,
            "signed_in_token": self.caller.token_id,
            "csrf_token": self.session.csrf_token,
            "flashes": self.session.take_flashes() if full else [],
            "now": self.ctx.now(),
            **values,
        }

    def render(self, name: str, section: str, status_code: int = 200, **values: Any) -> Response:
        return render(self.request, name, self.page(section, **values), status_code)


async def visitor(request: Request) -> Visitor:
    ctx = context(request)
    store = sessions(request)
    session = store.get(request.cookies.get(SESSION_COOKIE), ctx.clock.monotonic())
    if session is None:
        raise SignInRequired()
    try:
        caller = await tokens.authenticate_cached(ctx, session.secret)
        caller.require(Scope.READ)
    except Unauthenticated as error:
        store.end(session.id)
        ended = {TokenRevoked: "revoked", TokenExpired: "expired"}.get(type(error), "invalid")
        raise SignInRequired(ended) from None
    return Visitor(ctx=ctx, caller=caller, session=session, request=request)


SignedIn = Annotated[Visitor, Depends(visitor)]


class Form:
    """A posted ``application/x-www-form-urlencoded`` form (parsed here: no multipart library
    is needed for it)."""

    def __init__(self, values: dict[str, list[str]]) -> None:
        self.values = values

    def get(self, name: str, default: str = "") -> str:
        found = self.values.get(name)
        return found[0].strip() if found else default

    def getall(self, name: str) -> list[str]:
        return [v.strip() for v in self.values.get(name, [])]

    def has(self, name: str) -> bool:
        return name in self.values


async def read_form(request: Request) -> Form:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise UnsupportedMediaType("send the form as application/x-www-form-urlencoded")
    body = await request.body()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedRequest("the form is not UTF-8") from None
    return Form(parse_qs(text, keep_blank_values=True, max_num_fields=2000))


def check_csrf(visitor: Visitor, submitted: str | None) -> None:
    if not visitor.session.csrf_matches(submitted):
        raise CsrfRejected()


async def posted(request: Request, visitor: Visitor) -> Form:
    """The form, once its CSRF token (hidden field or header) is this session's."""
    form = await read_form(request)
    check_csrf(visitor, form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER))
    return form


def number(value: str, kind: type[int] | type[float] = int) -> Any:
    """A form's text as a number when it is one; else the text, so that the spec's own check
    reports it with the API's message ("Input should be a valid integer")."""
    try:
        return kind(value)
    except ValueError:
        return value


def validate(spec_type: type[S], data: dict[str, Any]) -> S:
    """Check a form's values as the API checks a body: the same errors, the same fields."""
    try:
        return spec_type.model_validate(data)
    except ValidationError as error:
        raise invalid(error) from None


def go(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a console path, never another site."""
    if value and value.startswith(PREFIX) and not value.startswith("//") and "\\" not in value:
        return value
    return PREFIX


def is_fragment(request: Request) -> bool:
    """A live region's refresh (or a script's call), not a page a person opened."""
    params = request.query_params
    return (
        "fragment" in params
        or "fragments" in params
        or request.headers.get("x-requested-with") == "fetch"
    )


def _sign_in_redirect(request: Request, ended: str | None) -> Response:
    if is_fragment(request):
        return PlainTextResponse("sign in again", status_code=401)
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    url = f"{SIGN_IN}?next={quote(target if request.method == 'GET' else PREFIX)}"
    if ended:
        url += f"&ended={ended}"
    return go(url)


def _error_page(request: Request, error: FlotillaError) -> Response:
    if is_fragment(request):
        return PlainTextResponse(error.message, status_code=error.http_status)
    return render(
        request,
        "error.html",
        {"error": error, "section": "", "user_id": None, "flashes": []},
        status_code=error.http_status,
    )


class ConsoleRoute(APIRoute):
    """Console handlers answer pages, not JSON: errors they do not handle become a page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired as needed:
                return _sign_in_redirect(request, needed.ended)
            except FlotillaError as error:
                return _error_page(request, error)

        return run
