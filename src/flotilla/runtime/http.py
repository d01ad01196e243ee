"""Just enough HTTP/1.1 for a replica, on asyncio streams: request heads, bodies, responses.

Requests carry a ``Content-Length`` body or a chunked one; ``Expect: 100-continue`` is
answered; HTTP/1.0 and HTTP/1.1 keep-alive rules apply. Anything ambiguous (both
``Content-Length`` and ``Transfer-Encoding``, conflicting lengths, folded or malformed header
lines) is refused with 400 and the connection closed, so requests can never be smuggled.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass
from typing import Any

MAX_HEAD_BYTES = 64 * 1024
"""Request line plus headers; larger heads are answered 431."""
MAX_TRAILER_LINES = 64

REASONS = {
    100: "Continue",
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    505: "HTTP Version Not Supported",
}
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
_HEX = frozenset(b"0123456789abcdefABCDEF")
_COMMON_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"})
_NAME = r"[!#$%&'*+\-.^_`|~0-9a-z]+"  # a token, lower-cased
_HEADER_LINE = re.compile(_NAME + r":[^\r\n]*")
_HEADER_BLOCK = re.compile(r"(?:" + _NAME + r":[^\r\n]*\r\n)*\r\n")
_WANTED_HEADERS = re.compile(
    r"^(content-length|transfer-encoding|connection|expect):[ \t]*([^\r\n]*?)[ \t]*\r$",
    re.MULTILINE,
)
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class HttpError(Exception):
    """A request that cannot be served; answered with ``status`` and the connection closed."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _bad(message: str) -> HttpError:
    return HttpError(400, "MALFORMED_REQUEST", message)


@dataclass(slots=True)
class Request:
    method: str
    path: str
    http10: bool
    keep_alive: bool
    content_length: int
    chunked: bool
    expect_continue: bool

    @property
    def has_body(self) -> bool:
        return self.chunked or self.content_length > 0


def parse_head(head: bytes) -> Request:
    """Parse a request line and headers ending in a blank line (``\\r\\n\\r\\n``)."""
    text = head.decode("latin-1").lstrip("\r\n")  # a stray CRLF before a request is allowed
    line_end = text.find("\r\n")
    parts = text[:line_end].split(" ")
    if len(parts) != 3:
        raise _bad("the request line must be 'METHOD /path HTTP/1.1'")
    method, target, version = parts
    if version == "HTTP/1.1":
        http10 = False
    elif version == "HTTP/1.0":
        http10 = True
    elif version.startswith("HTTP/"):
        raise HttpError(505, "HTTP_VERSION_NOT_SUPPORTED", f"{version} is not supported")
    else:
        raise _bad("the request line must end with HTTP/1.1 or HTTP/1.0")
    if method not in _COMMON_METHODS and (not method or not _TOKEN_CHARS.issuperset(method)):
        raise _bad("the request method is not a valid token")
    path = _path(target)

    # Every header this server acts on has a case-insensitive value: lower the whole block,
    # check its syntax with one regex and pick out those headers with another.
    block = text[line_end + 2 :].lower()
    if _HEADER_BLOCK.fullmatch(block) is None:
        raise _bad(f"malformed header line {_first_bad_line(block)!r}")
    content_length = -1
    connection = transfer_encoding = expect = ""
    for name, value in _WANTED_HEADERS.findall(block):
        if name == "content-length":
            length = _content_length(value)
            if content_length not in (-1, length):
                raise _bad("conflicting Content-Length headers")
            content_length = length
        elif name == "transfer-encoding":
            transfer_encoding = f"{transfer_encoding},{value}" if transfer_encoding else value
        elif name == "connection":
            connection = f"{connection},{value}" if connection else value
        else:
            expect = value

    chunked = False
    if transfer_encoding:
        if content_length != -1:
            raise _bad("a request must not have both Content-Length and Transfer-Encoding")
        codings = [c.strip() for c in transfer_encoding.split(",")]
        if http10 or codings[-1] != "chunked":
            raise _bad("Transfer-Encoding must end with chunked (HTTP/1.1 only)")
        if len(codings) > 1:
            raise HttpError(501, "NOT_IMPLEMENTED", "only Transfer-Encoding: chunked is supported")
        chunked = True
    if connection:
        tokens = {t.strip() for t in connection.split(",")}
        keep_alive = "keep-alive" in tokens if http10 else "close" not in tokens
    else:
        keep_alive = not http10
    return Request(
        method=method,
        path=path,
        http10=http10,
        keep_alive=keep_alive,
        content_length=max(content_length, 0),
        chunked=chunked,
        expect_continue=not http10 and expect == "100-continue",
    )


def _first_bad_line(block: str) -> str:
    for line in block.split("\r\n"):
        if line and not _HEADER_LINE.fullmatch(line):
            return line[:80]
    return block[:80]


def _path(target: str) -> str:
    if target.startswith("/"):
        return target.partition("?")[0]
    scheme, sep, rest = target.partition("://")  # absolute-form, as sent to proxies
    if sep and scheme.lower() in ("http", "https"):
        slash = rest.find("/")
        return "/" if slash < 0 else rest[slash:].partition("?")[0]
    if target == "*":
        return "*"
    raise _bad("the request target must be a path starting with '/'")


def _content_length(value: str) -> int:
    values = {v.strip() for v in value.split(",")}  # "5, 5" is allowed; "5, 6" is not
    if len(values) != 1:
        raise _bad("conflicting Content-Length values")
    text = values.pop()
    if not text or len(text) > 18 or not text.isascii() or not text.isdigit():
        raise _bad(f"Content-Length {text[:20]!r} is not a non-negative integer")
    return int(text)


async def read_body(
    request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, limit: int
) -> bytes:
    """Read the request's body, at most ``limit`` bytes (else 413)."""
    if request.chunked:
        if request.expect_continue:
            writer.write(CONTINUE)
        return await _read_chunked(reader, limit)
    length = request.content_length
    if length == 0:
        return b""
    if length > limit:
        raise HttpError(
            413, "PAYLOAD_TOO_LARGE", f"the body is {length} bytes, over the limit of {limit}"
        )
    if request.expect_continue:
        writer.write(CONTINUE)
    return await reader.readexactly(length)


async def _read_chunked(reader: asyncio.StreamReader, limit: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    try:
        while True:
            line = await reader.readuntil(b"\r\n")
            size_text = line[:-2].partition(b";")[0].strip(b" \t")
            if not size_text or len(size_text) > 15 or not _HEX.issuperset(size_text):
                raise _bad("malformed chunk size line")
            size = int(size_text, 16)
            if size == 0:
                break
            total += size
            if total > limit:
                raise HttpError(
                    413, "PAYLOAD_TOO_LARGE", f"the body is over the limit of {limit} bytes"
                )
            data = await reader.readexactly(size + 2)
            if data[-2:] != b"\r\n":
                raise _bad("a chunk must end with CRLF")
            chunks.append(data[:-2])
        for _ in range(MAX_TRAILER_LINES):
            if await reader.readuntil(b"\r\n") == b"\r\n":
                return b"".join(chunks)
    except asyncio.LimitOverrunError:
        raise _bad("a chunk line is too long") from None
    raise _bad("too many trailer lines")


_date_second = -1
_date_value = ""


def http_date() -> str:
    """``Date`` header value, computed once a second (locale-independent)."""
    global _date_second, _date_value
    now = int(time.time())
    if now != _date_second:
        t = time.gmtime(now)
        _date_value = (
            f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
        )
        _date_second = now
    return _date_value


def response(
    status: int,
    body: bytes,
    *,
    keep_alive: bool,
    http10: bool = False,
    head_only: bool = False,
    headers: str = "",
) -> bytes:
    """A whole JSON response. ``headers`` holds extra ``Name: value\\r\\n`` lines."""
    if not keep_alive:
        connection = "Connection: close\r\n"
    elif http10:
        connection = "Connection: keep-alive\r\n"
    else:
        connection = ""
    head = (
        f"HTTP/1.1 {status} {REASONS[status]}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"Date: {http_date()}\r\n{connection}{headers}\r\n"
    ).encode("latin-1")
    return head if head_only else head + body


def error_body(code: str, message: str, **extra: Any) -> bytes:
    error = {"code": code, "message": message, **extra}
    return json.dumps({"error": error}, separators=(",", ":")).encode()
