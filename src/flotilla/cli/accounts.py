"""``flotilla login``, ``flotilla token …`` and ``flotilla user …``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from flotilla.cli import output
from flotilla.cli.common import (
    CONNECTION,
    Connection,
    Output,
    Yes,
    confirm,
    given,
    nothing_to_change,
    sdk,
)
from flotilla.cli.output import Column, Format

if TYPE_CHECKING:
    from flotilla.client.types import Token, TokenWithSecret

token_app = typer.Typer(
    help="Personal Access Tokens: what the CLI, the SDK and clusters act with.",
    no_args_is_help=True,
)
user_app = typer.Typer(help="Users (admin only, apart from 'user get me').", no_args_is_help=True)

TOKEN_COLUMNS = (
    Column("ID", lambda t: t.id),
    Column("PREFIX", lambda t: t.prefix),
    Column("SCOPES", lambda t: t.scopes),
    Column("STATUS", lambda t: t.status),
    Column("EXPIRES", lambda t: t.expires_at.date().isoformat() if t.expires_at else "never"),
    Column("CLUSTERS", lambda t: t.compute_clusters),
    Column("AGE", lambda t: t.created_at),
)
USER_COLUMNS = (
    Column("ID", lambda u: u.id),
    Column("NAME", lambda u: u.name),
    Column("EMAIL", lambda u: u.email),
    Column("ADMIN", lambda u: u.is_admin),
    Column("AGE", lambda u: u.created_at),
)
TokenId = Annotated[
    str, typer.Argument(help="The token's id (its name, not its secret).", show_default=False)
]
UserId = Annotated[
    str, typer.Argument(help="The user's id ('me' for yourself).", show_default=False)
]


def login(
    url: Annotated[
        str | None,
        typer.Option(help="The server's URL (default: FLOTILLA_URL, else http://127.0.0.1:8700)."),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(help="Your Personal Access Token (default: FLOTILLA_TOKEN, else asked for)."),
    ] = None,
    gateway_url: Annotated[
        str | None,
        typer.Option(help="Where predictions go (default: the server's host, port 8701)."),
    ] = None,
) -> None:
    """Save a server's URL and your token for the CLI and the SDK.

    The token is checked against the server first; both go to $FLOTILLA_HOME/credentials (readable by you only), where every later command finds them."""
    import os

    from flotilla.client import Client
    from flotilla.client.config import DEFAULT_URL, credentials_path
    from flotilla.credentials import read_credentials, write_credentials

    connection = _root_connection()
    url = (url or connection.url or os.environ.get("FLOTILLA_URL") or DEFAULT_URL).rstrip("/")
    token = token or connection.token or os.environ.get("FLOTILLA_TOKEN")
    if not token:
        token = typer.prompt("Token", hide_input=True, err=True).strip()
    with Client(url, token, gateway_url=gateway_url) as client:
        me = client.users.me()
    path = credentials_path()
    if read_credentials(path).get("token") not in (None, token):
        # The file may hold the admin token the server wrote at its first start, whose secret
        # cannot be recovered: keep it rather than lose it.
        kept = path.with_name("credentials.previous")
        path.replace(kept)
        output.note(f"The credentials that were in {path} are kept in {kept}.")
    write_credentials(path, url, token, gateway_url)
    output.say(f"Logged in to {url} as {me.id}; credentials saved to {path}")


def _root_connection() -> Connection:
    return CONNECTION.get() or Connection()


# tokens
@token_app.command("create")
def create_token(
    token: Annotated[
        str | None, typer.Argument(help="A name for it (default: generated).", show_default=False)
    ] = None,
    scopes: Annotated[
        list[str] | None,
        typer.Option(
            "--scope",
            metavar="SCOPE",
            help="read, write or admin (repeatable; default read and write).",
            show_default=False,
        ),
    ] = None,
    expires_in_days: Annotated[
        int | None, typer.Option(min=1, max=3650, help="Days until it expires (default: never).")
    ] = None,
    description: Annotated[str, typer.Option(help="Free text shown in lists.")] = "",
    fmt: Output = Format.TABLE,
) -> None:
    """Create a token. Its secret is printed once: store it now."""
    created = sdk().tokens.create(
        token,
        description=description,
        **given(scopes=scopes or None, expires_in_days=expires_in_days),
    )
    if fmt != Format.TABLE:
        output.print_data(created, fmt)
        return
    output.say(f"token {created.id} created; its secret (shown only now):")
    output.say(f"  {created.secret}")


@token_app.command("ls")
def list_tokens(fmt: Output = Format.TABLE) -> None:
    """List your tokens, with the clusters that act with each (and stop if it goes)."""
    output.show_list(sdk().tokens.list(), TOKEN_COLUMNS, fmt)


@token_app.command("get")
def get_token(token: TokenId, fmt: Output = Format.TABLE) -> None:
    """Show a token (never its secret)."""
    output.show_one(sdk().tokens.get(token), fmt)


@token_app.command("update")
def update_token(
    token: TokenId,
    description: Annotated[str, typer.Option(help="New description.", show_default=False)],
    fmt: Output = Format.TABLE,
) -> None:
    """Change a token's description."""
    updated = sdk().tokens.update(token, description=description)
    _token_done(updated, f"token {updated.id} updated", fmt)


@token_app.command("revoke")
def revoke_token(token: TokenId, yes: Yes = False, fmt: Output = Format.TABLE) -> None:
    """Revoke a token: it stops working at once, and so do the clusters acting with it."""
    confirm(f"Revoke token {token}? Clusters that act with it stop.", yes)
    revoked = sdk().tokens.revoke(token)
    _token_done(revoked, f"token {revoked.id} revoked", fmt)


@token_app.command("rm")
def delete_token(token: TokenId, yes: Yes = False, fmt: Output = Format.TABLE) -> None:
    """Delete a token: like revoking it, and it is gone from lists."""
    confirm(f"Delete token {token}? Clusters that act with it stop.", yes)
    sdk().tokens.delete(token)
    _gone("token", token, fmt)


def _token_done(item: Token | TokenWithSecret, message: str, fmt: Format) -> None:
    if fmt == Format.TABLE:
        output.say(message)
    else:
        output.print_data(item, fmt)


def _gone(kind: str, name: str, fmt: Format) -> None:
    if fmt == Format.TABLE:
        output.say(f"{kind} {name} deleted")
    else:
        output.print_data({"id": name, "status": "deleted"}, fmt)


# users
@user_app.command("create")
def create_user(
    user: UserId,
    name: Annotated[str, typer.Option(help="Their name.")] = "",
    email: Annotated[str, typer.Option(help="Their email address.")] = "",
    admin: Annotated[bool, typer.Option("--admin", help="Make them an admin.")] = False,
    fmt: Output = Format.TABLE,
) -> None:
    """Create a user, with a first token whose secret is printed once."""
    created = sdk().users.create(user, name=name, email=email, is_admin=admin)
    if fmt != Format.TABLE:
        output.print_data(created, fmt)
        return
    output.say(f"user {created.user.id} created; their token (shown only now):")
    output.say(f"  {created.token.secret}")


@user_app.command("ls")
def list_users(fmt: Output = Format.TABLE) -> None:
    """List users."""
    output.show_list(sdk().users.list(), USER_COLUMNS, fmt)


@user_app.command("get")
def get_user(user: UserId, fmt: Output = Format.TABLE) -> None:
    """Show a user; 'flotilla user get me' shows whom your token belongs to."""
    output.show_one(sdk().users.get(user), fmt)


@user_app.command("update")
def update_user(
    user: UserId,
    name: Annotated[str | None, typer.Option(help="Their name.")] = None,
    email: Annotated[str | None, typer.Option(help="Their email address.")] = None,
    admin: Annotated[
        bool | None,
        typer.Option(
            "--admin/--no-admin", help="Grant or remove admin rights.", show_default=False
        ),
    ] = None,
    fmt: Output = Format.TABLE,
) -> None:
    """Change a user's name, email or admin rights."""
    changes = given(name=name, email=email, is_admin=admin)
    nothing_to_change(changes)
    updated = sdk().users.update(user, **changes)
    if fmt == Format.TABLE:
        output.say(f"user {updated.id} updated")
    else:
        output.print_data(updated, fmt)


@user_app.command("rm")
def delete_user(user: UserId, yes: Yes = False, fmt: Output = Format.TABLE) -> None:
    """Delete a user and their tokens (refused while they own clusters or deployments)."""
    confirm(f"Delete user {user} and their tokens?", yes)
    sdk().users.delete(user)
    _gone("user", user, fmt)


__all__ = ["login", "token_app", "user_app"]
