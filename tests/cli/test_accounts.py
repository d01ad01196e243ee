"""``flotilla login``, ``flotilla token …`` and ``flotilla user …`` against a live server."""

from __future__ import annotations

import json
import stat
import tomllib

from tests.cli.conftest import Cli
from tests.client.live import Live

NO_ENV = {"FLOTILLA_URL": None, "FLOTILLA_TOKEN": None, "FLOTILLA_GATEWAY_URL": None}


def test_login_checks_the_token_and_saves_it_for_later_commands(cli: Cli, live: Live) -> None:
    done = cli("login", "--url", live.url, input=f"{cli.user.token}\n", **NO_ENV)
    assert done.exit_code == 0, done.stderr
    assert "Token:" in done.stderr
    assert f"Logged in to {live.url} as {cli.user.id}" in done.stdout
    saved = cli.home / "credentials"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert tomllib.loads(saved.read_text()) == {"url": live.url, "token": cli.user.token}
    assert json.loads(cli.ok_without_env("user", "get", "me", "-o", "json"))["id"] == cli.user.id


def test_login_keeps_the_credentials_it_replaces(cli: Cli, live: Live) -> None:
    cli.home.mkdir(parents=True)
    (cli.home / "credentials").write_text('url = "http://127.0.0.1:8700"\ntoken = "flt_admin"\n')
    done = cli("login", "--url", live.url, "--token", cli.user.token, **NO_ENV)
    assert done.exit_code == 0, done.stderr
    assert "credentials.previous" in done.stderr
    assert "flt_admin" in (cli.home / "credentials.previous").read_text()
    assert cli.user.token in (cli.home / "credentials").read_text()


def test_login_with_a_wrong_token_saves_nothing(cli: Cli, live: Live) -> None:
    refused = cli("login", "--url", live.url, "--token", "flt_wrong", **NO_ENV)
    assert refused.exit_code == 1
    assert refused.stderr.startswith("Error UNAUTHENTICATED: ")
    assert not (cli.home / "credentials").exists()


def test_without_a_token_the_error_says_how_to_get_one(cli: Cli) -> None:
    result = cli("cluster", "ls", **NO_ENV)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error UNAUTHENTICATED: no token for http://127.0.0.1:8700")
    assert "flotilla login" in result.stderr


def test_root_options_name_the_server_and_token(cli: Cli, live: Live) -> None:
    result = cli("--url", live.url, "--token", cli.user.token, "user", "get", "me", **NO_ENV)
    assert result.exit_code == 0, result.stderr
    assert f"id:            {cli.user.id}" in result.stdout


def test_a_token_is_created_once_with_its_secret_then_revoked_and_removed(cli: Cli) -> None:
    made = cli.ok("token", "create", "ci", "--scope", "read", "--expires-in-days", "30")
    assert made.startswith("token ci created; its secret (shown only now):\n  flt_")
    secret = made.split()[-1]
    as_ci = cli("user", "get", "me", FLOTILLA_TOKEN=secret)
    assert as_ci.exit_code == 0
    refused = cli("cluster", "create", "x", FLOTILLA_TOKEN=secret)
    assert refused.stderr.startswith("Error PERMISSION_DENIED: ")
    listed = {t["id"]: t for t in json.loads(cli.ok("token", "ls", "-o", "json"))}
    assert listed["ci"]["scopes"] == ["read"]
    assert listed["ci"]["expires_at"] is not None
    assert "secret" not in json.loads(cli.ok("token", "get", "ci", "-o", "json"))
    assert cli.ok("token", "update", "ci", "--description", "for CI") == "token ci updated\n"
    assert cli.ok("token", "revoke", "ci", "-y") == "token ci revoked\n"
    revoked = cli("user", "get", "me", FLOTILLA_TOKEN=secret)
    assert revoked.stderr.startswith("Error TOKEN_REVOKED: ")
    assert cli.ok("token", "rm", "ci", "-y") == "token ci deleted\n"
    assert cli("token", "get", "ci").stderr.startswith("Error TOKEN_NOT_FOUND: ")


def test_an_admin_manages_users_and_others_may_not(cli: Cli, live: Live) -> None:
    admin = {"FLOTILLA_TOKEN": live.admin_token}
    made = cli("user", "create", "erin-cli", "--name", "Erin", "--email", "e@example.com", **admin)
    assert made.exit_code == 0, made.stderr
    assert made.stdout.startswith("user erin-cli created; their token (shown only now):\n  flt_")
    cli.ok_as(live.admin_token, "user", "update", "erin-cli", "--admin")
    shown = json.loads(cli.ok_as(live.admin_token, "user", "get", "erin-cli", "-o", "json"))
    assert (shown["name"], shown["is_admin"]) == ("Erin", True)
    assert "erin-cli" in cli.ok_as(live.admin_token, "user", "ls")
    assert cli.ok_as(live.admin_token, "user", "rm", "erin-cli", "-y") == "user erin-cli deleted\n"
    refused = cli("user", "ls")
    assert (refused.exit_code, refused.stderr.split(":")[0]) == (1, "Error PERMISSION_DENIED")
