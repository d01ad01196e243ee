"""Where the SDK finds its server and token: arguments, then the environment, then the
credentials file, then the local default."""

from __future__ import annotations

import stat
from pathlib import Path

from flotilla.client.config import gateway_for, resolve
from flotilla.credentials import read_credentials, write_credentials


def env(home: Path, **values: str) -> dict[str, str]:
    return {"FLOTILLA_HOME": str(home), **values}


def test_arguments_win_over_the_environment_and_the_file(tmp_path: Path) -> None:
    write_credentials(tmp_path / "credentials", "http://file:8700", "flt_file")
    found = resolve("http://arg:1", "flt_arg", environ=env(tmp_path, FLOTILLA_URL="http://env:2"))
    assert (found.url, found.token) == ("http://arg:1", "flt_arg")


def test_the_environment_wins_over_the_file(tmp_path: Path) -> None:
    write_credentials(tmp_path / "credentials", "http://file:8700", "flt_file")
    found = resolve(environ=env(tmp_path, FLOTILLA_URL="http://env:2", FLOTILLA_TOKEN="flt_env"))
    assert (found.url, found.token) == ("http://env:2", "flt_env")


def test_the_file_gives_server_token_and_gateway(tmp_path: Path) -> None:
    write_credentials(tmp_path / "credentials", "http://file:8700/", "flt_file", "http://gw:9")
    found = resolve(environ=env(tmp_path))
    assert (found.url, found.token, found.gateway_url) == (
        "http://file:8700",
        "flt_file",
        "http://gw:9",
    )


def test_the_files_token_is_not_sent_to_another_server(tmp_path: Path) -> None:
    write_credentials(tmp_path / "credentials", "http://file:8700", "flt_file")
    assert resolve("http://other:8700", environ=env(tmp_path)).token is None
    assert resolve("http://file:8700", environ=env(tmp_path)).token == "flt_file"


def test_without_anything_the_local_server_and_no_token(tmp_path: Path) -> None:
    found = resolve(environ=env(tmp_path))
    assert (found.url, found.token, found.gateway_url) == (
        "http://127.0.0.1:8700",
        None,
        "http://127.0.0.1:8701",
    )


def test_the_gateway_is_the_servers_host_on_port_8701_unless_told(tmp_path: Path) -> None:
    assert gateway_for("https://flotilla.example.com") == "https://flotilla.example.com:8701"
    assert gateway_for("http://[::1]:8700") == "http://[::1]:8701"
    told = resolve("http://h:1", "t", environ=env(tmp_path, FLOTILLA_GATEWAY_URL="http://gw:80/"))
    assert told.gateway_url == "http://gw:80"


def test_credentials_are_written_for_their_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "home" / "credentials"
    write_credentials(path, "http://h:8700", "flt_x")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_credentials(path) == {"url": "http://h:8700", "token": "flt_x"}
    assert read_credentials(tmp_path / "missing") == {}
