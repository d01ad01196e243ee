"""``$FLOTILLA_HOME/credentials``: TOML with ``url``, ``token`` and optionally ``gateway_url``.

Written by the server's first start (``url``, ``token``), by ``flotilla up`` (all three, with the
ports it runs on) and by ``flotilla login``; read by the CLI and the SDK. Standard library only:
the server, the SDK and the CLI all import it.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

KEYS = ("url", "token", "gateway_url")


def read_credentials(path: Path) -> dict[str, str]:
    """The file's ``url``, ``token`` and ``gateway_url`` (those present); {} without a file."""
    try:
        loaded = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read {path}: {error}") from None
    return {k: str(v) for k, v in loaded.items() if k in KEYS and v}


def write_credentials(path: Path, url: str, token: str, gateway_url: str | None = None) -> None:
    """TOML readable by its owner only (0600), replaced atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"url = {json.dumps(url)}", f"token = {json.dumps(token)}"]
    if gateway_url:
        lines.append(f"gateway_url = {json.dumps(gateway_url)}")
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        # JSON strings are valid TOML basic strings for these values.
        f.write("\n".join(lines) + "\n")
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
