"""One exchange: retries with back-off on connection errors, for idempotent calls only; a
timeout on every call; error answers raised by their code."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

import flotilla
from flotilla.client.http import backoff
from flotilla.errors import (
    ClusterNotFound,
    FlotillaError,
    NoReplicaReady,
    RequestTimedOut,
    ServerUnreachable,
    Unauthenticated,
)

CLUSTER = {
    "id": "a",
    "description": "",
    "cluster_type": "dedicated",
    "cloud_provider": "local",
    "region": "local",
    "token_id": None,
    "managed_by": "flotilla",
    "owner": "me",
    "status": "active",
    "created_at": "2026-01-01T00:00:00Z",
    "modified_at": "2026-01-01T00:00:00Z",
}


class Flaky:
    """A transport that refuses the first ``failures`` connections, then answers ``answer``."""

    def __init__(self, failures: int, answer: httpx.Response | None = None) -> None:
        self.failures = failures
        self.answer = answer or httpx.Response(200, json=CLUSTER)
        self.attempts: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.attempts.append(request.method)
        if len(self.attempts) <= self.failures:
            raise httpx.ConnectError("connection refused", request=request)
        return self.answer


def sdk(handler: object, retries: int = 3) -> tuple[flotilla.Client, list[float]]:
    client = flotilla.Client(
        "http://flotilla.test",
        "flt_test",
        retries=retries,
        transport=httpx.MockTransport(handler),  # type: ignore[arg-type]
    )
    slept: list[float] = []
    client._http.sleep = slept.append
    return client, slept


def test_a_read_is_retried_with_growing_back_off_after_connection_errors() -> None:
    flaky = Flaky(failures=2)
    client, slept = sdk(flaky)
    assert client.compute_clusters.get("a").id == "a"
    assert flaky.attempts == ["GET", "GET", "GET"]
    assert slept == [backoff(1), backoff(2)] == [0.2, 0.4]


def test_retries_stop_after_the_limit_with_a_clear_error() -> None:
    flaky = Flaky(failures=10)
    client, slept = sdk(flaky, retries=2)
    with pytest.raises(ServerUnreachable) as failed:
        client.compute_clusters.get("a")
    assert len(flaky.attempts) == 3
    assert slept == [0.2, 0.4]
    assert "cannot reach the server at http://flotilla.test" in failed.value.message
    assert failed.value.code == "SERVER_UNREACHABLE"


def test_a_create_is_not_retried() -> None:
    flaky = Flaky(failures=1)
    client, slept = sdk(flaky)
    with pytest.raises(ServerUnreachable):
        client.compute_clusters.create("a", cloud_provider="local", region="local")
    assert flaky.attempts == ["POST"]
    assert slept == []


def test_a_prediction_is_not_retried_but_apply_and_uploads_are() -> None:
    flaky = Flaky(failures=1)
    client, _ = sdk(flaky)
    with pytest.raises(ServerUnreachable):
        client.predict("echo", 1)
    assert flaky.attempts == ["POST"]
    apply = Flaky(failures=1, answer=httpx.Response(200, json={"results": [], "dry_run": False}))
    client, _ = sdk(apply)
    client.apply("compute_cluster: {id: a, cloud_provider: local, region: local}")
    assert apply.attempts == ["POST", "POST"]


def test_back_off_grows_to_two_seconds_at_most() -> None:
    assert [backoff(n) for n in range(1, 7)] == [0.2, 0.4, 0.8, 1.6, 2.0, 2.0]


def test_a_slow_answer_ends_the_call_at_its_timeout() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        assert request.extensions["timeout"]["read"] == 1.5
        raise httpx.ReadTimeout("timed out", request=request)

    client = flotilla.Client(
        "http://flotilla.test", "flt_test", timeout=1.5, transport=httpx.MockTransport(slow)
    )
    with pytest.raises(RequestTimedOut) as late:
        client.compute_clusters.get("a")
    assert "within 1.5 s" in late.value.message


def test_predictions_go_to_the_gateway_with_a_longer_timeout() -> None:
    seen: list[httpx.Request] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"outputs": json.loads(request.content)["inputs"]})

    client = flotilla.Client(
        "http://server.test:8700", "flt_test", transport=httpx.MockTransport(gateway)
    )
    assert client.predict("echo", {"a": 1}) == {"a": 1}
    assert str(seen[0].url) == "http://server.test:8701/v1/deployments/echo/predict"
    assert seen[0].extensions["timeout"]["read"] == 300.0
    assert seen[0].headers["authorization"] == "Bearer flt_test"


def test_an_error_answer_raises_the_class_of_its_code_and_keeps_unknown_codes() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/gone"):
            body = {"error": {"code": "CLUSTER_NOT_FOUND", "message": "no cluster 'gone'"}}
            return httpx.Response(404, json=body)
        if request.url.path.endswith("/predict"):
            body = {"error": {"code": "NO_REPLICA_READY", "message": "waited 60 s"}}
            return httpx.Response(503, json=body)
        if request.url.path.endswith("/new"):
            return httpx.Response(418, json={"error": {"code": "BREWING", "message": "tea"}})
        return httpx.Response(502, text="<html>bad gateway</html>")

    client, _ = sdk(answer)
    with pytest.raises(ClusterNotFound, match="no cluster 'gone'"):
        client.compute_clusters.get("gone")
    with pytest.raises(NoReplicaReady):
        client.predict("echo", 1)
    with pytest.raises(FlotillaError) as unknown:
        client.compute_clusters.get("new")
    assert (unknown.value.code, unknown.value.http_status) == ("BREWING", 418)
    with pytest.raises(FlotillaError) as proxy:
        client.compute_clusters.get("other")
    assert proxy.value.code == "HTTP_502"


def test_without_a_token_nothing_is_sent_and_the_error_says_how_to_get_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("FLOTILLA_TOKEN", raising=False)
    monkeypatch.setenv("FLOTILLA_HOME", str(tmp_path))
    flaky = Flaky(failures=0)
    client = flotilla.Client("http://flotilla.test", transport=httpx.MockTransport(flaky))
    with pytest.raises(Unauthenticated, match="flotilla login"):
        client.compute_clusters.get("a")
    assert flaky.attempts == []
