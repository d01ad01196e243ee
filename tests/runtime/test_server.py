"""The replica server over real HTTP: /predict, /healthz, /ready, errors, keep-alive."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.runtime.replicas import EXAMPLES, RawConnection, Replica, post

ReplicaFactory = Callable[..., Replica]
PackageFactory = Callable[[str], Path]

FAILING = """
    from flotilla.runtime import InvalidInput, Model

    class M(Model):
        def predict(self, inputs):
            if inputs == "boom":
                raise ValueError("the model cannot handle boom")
            if inputs == "bad":
                raise InvalidInput("inputs must not be 'bad'")
            if inputs == "unencodable":
                return {"value": object()}
            if inputs == "nan":
                return float("nan")
            return {"ok": inputs}
"""


@pytest.fixture(scope="module")
def echo() -> Iterator[Replica]:
    """One echo replica shared by this module's tests: each leaves it as it found it."""
    server = Replica(EXAMPLES / "echo", "model.py:Echo").ready()
    yield server
    server.stop()


@pytest.mark.parametrize(
    "inputs",
    [
        {"a": [1, 2.5, None, True]},
        "text",
        7,
        None,
        [],
        "ünïcødé ✓ \u2028",
        {"nested": {"x": [[{}]]}},
    ],
)
def test_echo_answers_its_inputs(echo: Replica, inputs: object) -> None:
    response = httpx.post(f"{echo.url}/predict", json={"inputs": inputs})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"outputs": inputs}


def test_health_and_ready_when_loaded(echo: Replica) -> None:
    health = httpx.get(f"{echo.url}/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "state": "ready", "inflight": 0}
    ready = httpx.get(f"{echo.url}/ready")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
    head = httpx.head(f"{echo.url}/ready")
    assert head.status_code == 200
    assert head.content == b""
    assert echo.stdout == [f"ready on {echo.url}"]


def test_a_model_exception_is_a_500_and_the_server_keeps_serving(
    replica: ReplicaFactory, package: PackageFactory
) -> None:
    server = replica(package(FAILING)).ready()
    with httpx.Client(base_url=server.url) as client:
        failed = client.post("/predict", json={"inputs": "boom"})
        assert failed.status_code == 500
        assert failed.json() == {
            "error": {
                "code": "MODEL_ERROR",
                "message": "the model cannot handle boom",
                "type": "ValueError",
            }
        }
        after = client.post("/predict", json={"inputs": 1})
        assert (after.status_code, after.json()) == (200, {"outputs": {"ok": 1}})
    server.wait_for(lambda: any("the model cannot handle boom" in line for line in server.stderr))
    assert "Traceback" in server.log  # the model's traceback reaches the logs


def test_invalid_input_raised_by_the_model_is_a_400(
    replica: ReplicaFactory, package: PackageFactory
) -> None:
    server = replica(package(FAILING)).ready()
    response = httpx.post(f"{server.url}/predict", json={"inputs": "bad"})
    assert response.status_code == 400
    assert response.json() == {
        "error": {"code": "INVALID_INPUT", "message": "inputs must not be 'bad'"}
    }


@pytest.mark.parametrize("inputs", ["unencodable", "nan"])
def test_outputs_json_cannot_encode_are_a_model_error(
    replica: ReplicaFactory, package: PackageFactory, inputs: str
) -> None:
    server = replica(package(FAILING)).ready()
    response = httpx.post(f"{server.url}/predict", json={"inputs": inputs})
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "MODEL_ERROR"
    assert error["message"].startswith("predict returned outputs that are not JSON")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "the body must be JSON"),
        (b"", "the body must be JSON"),
        (b"\xff\xfe\x00garbage", "the body must be JSON"),
        (b"[1, 2]", '"inputs" field'),
        (b'{"input": 1}', '"inputs" field'),
        (b"[" * 100_000, "the body must be JSON"),
    ],
)
def test_a_body_that_is_not_json_with_inputs_is_a_400(
    echo: Replica, body: bytes, message: str
) -> None:
    with httpx.Client(base_url=echo.url) as client:
        response = client.post("/predict", content=body)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "INVALID_INPUT"
        assert message in response.json()["error"]["message"]
        assert client.post("/predict", json={"inputs": 1}).status_code == 200  # same connection


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/nope", 404, "NOT_FOUND"),
        ("POST", "/", 404, "NOT_FOUND"),
        ("GET", "/predict", 405, "METHOD_NOT_ALLOWED"),
        ("PUT", "/predict", 405, "METHOD_NOT_ALLOWED"),
        ("POST", "/healthz", 405, "METHOD_NOT_ALLOWED"),
        ("DELETE", "/ready", 405, "METHOD_NOT_ALLOWED"),
    ],
)
def test_unknown_paths_and_wrong_methods(
    echo: Replica, method: str, path: str, status: int, code: str
) -> None:
    with httpx.Client(base_url=echo.url) as client:
        response = client.request(method, path, json={"inputs": 1})
        assert response.status_code == status
        assert response.json()["error"]["code"] == code
        if status == 405:
            assert response.headers["allow"] in ("POST", "GET, HEAD")
        assert client.get("/healthz").status_code == 200  # the body was read: connection reused


def test_query_strings_are_ignored(echo: Replica) -> None:
    assert httpx.get(f"{echo.url}/ready?probe=1").status_code == 200


def test_keep_alive_serves_many_requests_on_one_connection(echo: Replica) -> None:
    with RawConnection(echo.port) as connection:
        for n in range(20):
            connection.send(post("/predict", json.dumps({"inputs": n}).encode()))
            status, headers, body = connection.response()
            assert (status, json.loads(body)) == (200, {"outputs": n})
            assert "connection" not in headers
        connection.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert connection.response()[0] == 200


def test_pipelined_requests_are_answered_in_order(echo: Replica) -> None:
    with RawConnection(echo.port) as connection:
        connection.send(b"".join(post("/predict", b'{"inputs": %d}' % n) for n in range(10)))
        answers = [json.loads(connection.response()[2]) for _ in range(10)]
        assert answers == [{"outputs": n} for n in range(10)]


def test_httpx_reuses_one_connection(echo: Replica) -> None:
    limits = httpx.Limits(max_connections=1)
    with httpx.Client(base_url=echo.url, limits=limits) as client:
        streams = set()
        for n in range(5):
            response = client.post("/predict", json={"inputs": n})
            streams.add(id(response.extensions["network_stream"]))
        assert len(streams) == 1


def test_connection_close_is_honoured(echo: Replica) -> None:
    with RawConnection(echo.port) as connection:
        connection.send(post("/predict", b'{"inputs": 1}', "Connection: close\r\n"))
        status, headers, _ = connection.response()
        assert (status, headers["connection"]) == (200, "close")
        assert connection.closed_by_server()


def test_http_10_closes_unless_keep_alive_is_asked(echo: Replica) -> None:
    with RawConnection(echo.port) as connection:
        connection.send(b"GET /healthz HTTP/1.0\r\n\r\n")
        assert connection.response()[1]["connection"] == "close"
        assert connection.closed_by_server()
    with RawConnection(echo.port) as connection:
        connection.send(b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        assert connection.response()[1]["connection"] == "keep-alive"
        connection.send(b"GET /ready HTTP/1.0\r\n\r\n")
        assert connection.response()[0] == 200


def test_chunked_bodies_and_expect_continue(echo: Replica) -> None:
    with RawConnection(echo.port) as connection:
        connection.send(
            b"POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b'5\r\n{"inp\r\n9;ext=1\r\nuts": 42}\r\n0\r\nTrailer: x\r\n\r\n'
        )
        status, _, body = connection.response()
        assert (status, json.loads(body)) == (200, {"outputs": 42})
        connection.send(post("/predict", b'{"inputs": 3}', "Expect: 100-continue\r\n")[:-13])
        assert connection.response()[0] == 100
        connection.send(b'{"inputs": 3}')
        status, _, body = connection.response()
        assert (status, json.loads(body)) == (200, {"outputs": 3})


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1 extra\r\n\r\n", 400),
        (b"GET healthz HTTP/1.1\r\n\r\n", 400),
        (b"GET /healthz HTTP/2.0\r\n\r\n", 505),
        (b"GET /healthz HTTP/1.1\r\nno colon here\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1\r\n folded: header\r\n\r\n", 400),
        (b"POST /predict HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
        (b"POST /predict HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n", 400),
        (b"POST /predict HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", 400),
        (
            b"POST /predict HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            400,
        ),
        (b"POST /predict HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        (b"POST /predict HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        (b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n", 431),
    ],
)
def test_malformed_requests_get_an_error_and_the_connection_closed(
    echo: Replica, request_bytes: bytes, status: int
) -> None:
    with RawConnection(echo.port) as connection:
        connection.send(request_bytes)
        got, headers, body = connection.response()
        assert got == status
        assert headers["connection"] == "close"
        assert json.loads(body)["error"]["message"]
        assert connection.closed_by_server()
    assert httpx.get(f"{echo.url}/healthz").status_code == 200


def test_bodies_over_the_limit_are_a_413(replica: ReplicaFactory) -> None:
    server = replica(EXAMPLES / "echo", "model.py:Echo", "--max-body-bytes", "1024").ready()
    with httpx.Client(base_url=server.url) as client:
        small = client.post("/predict", json={"inputs": "x" * 900})
        assert small.status_code == 200
        large = client.post("/predict", json={"inputs": "x" * 200_000})
        assert large.status_code == 413
        assert large.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
        chunked = client.post("/predict", content=iter([b'{"inputs": "', b"x" * 5000, b'"}']))
        assert chunked.status_code == 413
        assert client.post("/predict", json={"inputs": 2}).status_code == 200


def test_a_large_body_within_the_limit_round_trips(echo: Replica) -> None:
    inputs = ["é" * 1000] * 2000  # about 4 MB of JSON
    response = httpx.post(f"{echo.url}/predict", json={"inputs": inputs}, timeout=10)
    assert response.status_code == 200
    assert response.json() == {"outputs": inputs}


def test_clients_that_disconnect_mid_request_do_no_harm(
    replica: ReplicaFactory, package: PackageFactory
) -> None:
    slow = package(
        """
        import time
        from flotilla.runtime import Model

        class M(Model):
            def predict(self, inputs):
                time.sleep(inputs)
                return inputs
        """
    )
    server = replica(slow).ready()
    for partial in (
        b"POST /pred",
        b'POST /predict HTTP/1.1\r\nContent-Length: 100\r\n\r\n{"inp',
        post("/predict", b'{"inputs": 0.3}'),  # hangs up before the answer
    ):
        with RawConnection(server.port) as connection:
            connection.send(partial)
    time.sleep(0.4)
    response = httpx.post(f"{server.url}/predict", json={"inputs": 0})
    assert response.status_code == 200
    assert "Traceback" not in server.log


def test_idle_connections_are_closed_after_the_keep_alive_timeout(
    replica: ReplicaFactory,
) -> None:
    server = replica(EXAMPLES / "echo", "model.py:Echo", "--keep-alive-timeout", "0.3").ready()
    with RawConnection(server.port) as connection:
        connection.send(b"GET /healthz HTTP/1.1\r\n\r\n")
        assert connection.response()[0] == 200
        started = time.monotonic()
        assert connection.closed_by_server()
        assert 0.25 < time.monotonic() - started < 1.5


def test_sync_predict_runs_in_threads_and_does_not_block_the_server(
    replica: ReplicaFactory, package: PackageFactory
) -> None:
    slow = package(
        """
        import threading, time
        from flotilla.runtime import Model

        class M(Model):
            def predict(self, inputs):
                time.sleep(0.5)
                return threading.current_thread().name
        """
    )
    server = replica(slow, "model.py:M", "--threads", "2").ready()

    async def scenario() -> None:
        async with httpx.AsyncClient(base_url=server.url) as client:
            started = time.monotonic()
            predictions = [
                asyncio.create_task(client.post("/predict", json={"inputs": None}))
                for _ in range(2)
            ]
            await asyncio.sleep(0.1)
            health = await client.get("/healthz")
            assert health.status_code == 200
            assert time.monotonic() - started < 0.4  # answered while both predictions sleep
            assert health.json()["inflight"] == 2
            answers = await asyncio.gather(*predictions)
            assert time.monotonic() - started < 0.9  # the two ran at the same time
            names = {answer.json()["outputs"] for answer in answers}
            assert len(names) == 2
            assert all(name.startswith("flotilla-predict") for name in names)

    asyncio.run(scenario())


def test_async_predict_runs_concurrently_on_the_event_loop(
    replica: ReplicaFactory, package: PackageFactory
) -> None:
    source = package(
        """
        import asyncio
        from flotilla.runtime import Model

        class M(Model):
            async def load(self):
                await asyncio.sleep(0.05)
                self.factor = 2

            async def predict(self, inputs):
                await asyncio.sleep(0.3)
                if inputs is None:
                    raise KeyError("missing")
                return inputs * self.factor
        """
    )
    server = replica(source).ready()
    server.wait_for(lambda: "async predict" in server.log)  # stderr may trail stdout

    async def scenario() -> None:
        async with httpx.AsyncClient(base_url=server.url) as client:
            started = time.monotonic()
            answers = await asyncio.gather(
                *(client.post("/predict", json={"inputs": n}) for n in range(10))
            )
            # concurrently: ~0.3 s; one after another it would take 3 s (generous for load)
            assert time.monotonic() - started < 2.0

            assert [a.json() for a in answers] == [{"outputs": 2 * n} for n in range(10)]
            failed = await client.post("/predict", json={"inputs": None})
            assert failed.status_code == 500
            assert failed.json()["error"] == {
                "code": "MODEL_ERROR",
                "message": "'missing'",
                "type": "KeyError",
            }

    asyncio.run(scenario())


def test_the_model_reads_files_from_its_package(
    replica: ReplicaFactory, package: PackageFactory
) -> None:
    folder = package(
        """
        from helpers import shout
        from flotilla.runtime import Model

        class M(Model):
            def load(self):
                self.greeting = (self.path / "data" / "greeting.txt").read_text().strip()

            def predict(self, inputs):
                return shout(f"{self.greeting}, {inputs}")
        """
    )
    (folder / "helpers.py").write_text("def shout(text):\n    return text.upper()\n")
    (folder / "data").mkdir()
    (folder / "data" / "greeting.txt").write_text("hello\n")
    server = replica(folder).ready()
    response = httpx.post(f"{server.url}/predict", json={"inputs": "world"})
    assert response.json() == {"outputs": "HELLO, WORLD"}


def test_the_sentiment_example_serves_predictions(replica: ReplicaFactory) -> None:
    server = replica(EXAMPLES / "sentiment", "model.py:Sentiment").ready()
    with httpx.Client(base_url=server.url) as client:
        one = client.post("/predict", json={"inputs": {"text": "I love it, works great"}})
        assert one.json()["outputs"]["label"] == "positive"
        batch = client.post(
            "/predict", json={"inputs": ["Broke after a day, awful.", {"text": "Wonderful film!"}]}
        )
        assert [o["label"] for o in batch.json()["outputs"]] == ["negative", "positive"]
        wrong = client.post("/predict", json={"inputs": {"txt": "typo"}})
        assert wrong.status_code == 400
        assert wrong.json()["error"]["code"] == "INVALID_INPUT"
