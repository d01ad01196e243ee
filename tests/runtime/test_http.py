"""Request heads parsed by hand: what is accepted, and what is refused with which status."""

from __future__ import annotations

import pytest

from flotilla.runtime.http import HttpError, http_date, parse_head, response


def test_a_simple_post() -> None:
    request = parse_head(b"POST /predict?x=1 HTTP/1.1\r\nHost: a\r\ncontent-length: 12\r\n\r\n")
    assert (request.method, request.path, request.content_length) == ("POST", "/predict", 12)
    assert request.keep_alive
    assert not request.chunked
    assert not request.expect_continue


@pytest.mark.parametrize(
    ("head", "keep_alive"),
    [
        (b"GET / HTTP/1.1\r\n\r\n", True),
        (b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", False),
        (b"GET / HTTP/1.1\r\nConnection: Upgrade, Close\r\n\r\n", False),
        (b"GET / HTTP/1.0\r\n\r\n", False),
        (b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", True),
    ],
)
def test_keep_alive_rules(head: bytes, keep_alive: bool) -> None:
    assert parse_head(head).keep_alive is keep_alive


def test_absolute_form_targets_and_a_leading_blank_line() -> None:
    assert parse_head(b"GET http://host:1/ready?a HTTP/1.1\r\n\r\n").path == "/ready"
    assert parse_head(b"\r\nGET /healthz HTTP/1.1\r\n\r\n").path == "/healthz"


def test_repeated_equal_content_lengths_are_one() -> None:
    head = b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5, 5\r\n\r\n"
    assert parse_head(head).content_length == 5


def test_chunked_and_expect() -> None:
    request = parse_head(
        b"POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\nExpect: 100-Continue\r\n\r\n"
    )
    assert request.chunked
    assert request.expect_continue
    assert request.has_body


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"\r\n\r\n", 400),
        (b"GET /\r\n\r\n", 400),
        (b"G@T / HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/3\r\n\r\n", 505),
        (b"GET / FTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nContent-Length: \xb2\r\n\r\n", 400),  # '²' is a digit to str
        (b"GET / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\n", 400),
        (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        (b"GET / HTTP/1.1\r\n: empty name\r\n\r\n", 400),
    ],
)
def test_refused_heads(head: bytes, status: int) -> None:
    with pytest.raises(HttpError) as refused:
        parse_head(head)
    assert refused.value.status == status


def test_responses() -> None:
    ok = response(200, b"{}", keep_alive=True)
    assert ok.startswith(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
    )
    assert ok.endswith(b"\r\n\r\n{}")
    assert b"Connection" not in ok
    assert b"Connection: close\r\n" in response(400, b"{}", keep_alive=False)
    assert b"Connection: keep-alive\r\n" in response(200, b"{}", keep_alive=True, http10=True)
    head = response(200, b"{}", keep_alive=True, head_only=True)
    assert head.endswith(b"Content-Length: 2\r\n" + f"Date: {http_date()}\r\n\r\n".encode())
    assert http_date().endswith(" GMT")
