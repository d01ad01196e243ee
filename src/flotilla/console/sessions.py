"""Console sign-in sessions: a random id in an HttpOnly cookie; the PAT stays on the server.

The session keeps the Personal Access Token the user signed in with, so every page acts as that
token through the same services as the API (the token is checked again on every request: a
revoked token ends the session at once), and "Try it" can call the gateway as the user.

Each session has its own CSRF token, put in a hidden field of every form and sent by the
console's JavaScript as ``X-CSRF-Token``; a POST without it is refused. The sign-in form, which
comes before any session, uses a double-submit cookie instead.

Sessions live in the server process: after a restart users sign in again, and several server
replicas behind one address need sticky sessions.
"""

from __future__ import annotations

import hmac
import secrets
from collections import OrderedDict
from dataclasses import dataclass, field

SESSION_COOKIE = "flotilla_session"
SIGN_IN_COOKIE = "flotilla_sign_in"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"

IDLE_SECONDS = 12 * 3600.0
"""A session unused this long ends."""
LIFETIME_SECONDS = 7 * 86400.0
"""No session lasts longer than this, used or not."""
MAX_SESSIONS = 10_000
"""Beyond this many, the least recently used session ends."""


@dataclass
class Session:
    id: str
    secret: str
    """The PAT the user signed in with."""
    csrf_token: str
    started: float
    seen: float
    flashes: list[tuple[str, str]] = field(default_factory=list)
    """Messages (kind, text) for the next page shown: "cluster created", a new token's secret."""
    new_secret: tuple[str, str, str | None] | None = None
    """(token id, secret, where to continue) of a token just created: shown once, on the next
    tokens page."""

    def flash(self, text: str, kind: str = "info") -> None:
        self.flashes.append((kind, text))

    def take_flashes(self) -> list[tuple[str, str]]:
        taken, self.flashes = self.flashes, []
        return taken

    def csrf_matches(self, submitted: str | None) -> bool:
        return submitted is not None and hmac.compare_digest(
            submitted.encode(), self.csrf_token.encode()
        )


class SessionStore:
    """Sessions by id, least recently used first. Times are monotonic seconds, given by the
    caller (the context's clock)."""

    def __init__(self, max_sessions: int = MAX_SESSIONS) -> None:
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self.max_sessions = max_sessions

    def start(self, secret: str, now: float) -> Session:
        session = Session(
            id=secrets.token_urlsafe(32),
            secret=secret,
            csrf_token=secrets.token_urlsafe(32),
            started=now,
            seen=now,
        )
        self._sessions[session.id] = session
        while len(self._sessions) > self.max_sessions:
            self._sessions.popitem(last=False)
        return session

    def get(self, session_id: str | None, now: float) -> Session | None:
        """The live session of that id, marked as used now; None when unknown or expired."""
        session = self._sessions.get(session_id or "")
        if session is None:
            return None
        if now - session.seen > IDLE_SECONDS or now - session.started > LIFETIME_SECONDS:
            del self._sessions[session.id]
            return None
        session.seen = now
        self._sessions.move_to_end(session.id)
        return session

    def end(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    def __len__(self) -> int:
        return len(self._sessions)


def new_sign_in_token() -> str:
    return secrets.token_urlsafe(32)


def sign_in_token_matches(cookie: str | None, submitted: str | None) -> bool:
    """Double submit: the hidden field must equal the cookie set with the sign-in form."""
    return bool(cookie and submitted) and hmac.compare_digest(
        str(cookie).encode(), str(submitted).encode()
    )
