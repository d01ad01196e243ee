"""Reading and following logs and events with the SDK, over a real socket."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta

import pytest

import flotilla
from flotilla.errors import DeploymentNotFound
from tests.client.live import EXAMPLES, Live, User

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def replica(client: flotilla.Client, live: Live, user: User) -> str:
    """A ready replica of deployment ``echo``, with three lines written."""
    client.models.upload(EXAMPLES / "echo")
    client.deployments.create("echo", model="echo")
    replica_id = live.add_ready_replica(user.id, "echo")
    live.write_logs(
        replica_id,
        (T0, "loading"),
        (T0 + timedelta(seconds=1), "ready on http://127.0.0.1:9000"),
        (T0 + timedelta(seconds=2), "served 1 request"),
    )
    return replica_id


def test_logs_are_read_oldest_first_with_their_time_and_replica(
    client: flotilla.Client, replica: str
) -> None:
    lines = list(client.deployments.logs("echo"))
    assert [line.text for line in lines] == [
        "loading",
        "ready on http://127.0.0.1:9000",
        "served 1 request",
    ]
    assert lines[0].time == T0
    assert {line.replica for line in lines} == {replica}


def test_logs_can_be_limited_to_the_newest_or_to_after_a_time(
    client: flotilla.Client, replica: str
) -> None:
    assert [line.text for line in client.deployments.logs("echo", tail=1)] == ["served 1 request"]
    after = list(client.deployments.logs("echo", since=T0 + timedelta(seconds=1)))
    assert [line.text for line in after] == ["served 1 request"]
    naive = datetime(2026, 1, 1, 12, 0, 1)  # taken as UTC
    from_naive = client.deployments.logs("echo", since=naive)
    assert [line.text for line in from_naive] == ["served 1 request"]


def test_following_logs_prints_the_tail_then_new_lines_as_they_come(
    client: flotilla.Client, live: Live, replica: str
) -> None:
    threading.Timer(
        0.3, lambda: live.write_logs(replica, (T0 + timedelta(seconds=3), "served 2 requests"))
    ).start()
    followed = client.deployments.logs("echo", follow=True, tail=2)
    texts = [line.text for line in itertools.islice(followed, 3)]
    assert texts == ["ready on http://127.0.0.1:9000", "served 1 request", "served 2 requests"]


def test_following_the_logs_of_a_deployment_that_goes_away_ends(
    client: flotilla.Client, live: Live, user: User, replica: str
) -> None:
    followed = client.deployments.logs("echo", follow=True)
    assert next(followed).text == "loading"
    live.set_replica_state(replica, "stopped")  # nothing runs: the delete is done at once
    assert client.deployments.delete("echo").status == "deleted"
    assert len(list(followed)) == 2


def test_logs_of_a_missing_deployment_raise_its_error(client: flotilla.Client) -> None:
    with pytest.raises(DeploymentNotFound):
        list(client.deployments.logs("nope"))
    with pytest.raises(DeploymentNotFound):
        next(client.deployments.logs("nope", follow=True))


def test_events_are_listed_newest_first_and_filtered(client: flotilla.Client) -> None:
    client.compute_clusters.create("a", cloud_provider="local", region="local")
    client.compute_clusters.create("b", cloud_provider="local", region="local")
    mine = list(client.events(object_kind="compute_cluster", reason="CLUSTER_CREATED"))
    assert [e.object_id for e in mine][:2] == ["b", "a"]
    assert [e.object_id for e in client.events(object_id="a")] == ["a"]


def test_following_events_yields_what_happens_from_now_on(
    client: flotilla.Client, live: Live, user: User
) -> None:
    client.compute_clusters.create("before", cloud_provider="local", region="local")
    stop = threading.Event()

    def keep_creating() -> None:  # whenever the follower starts, something happens after
        with flotilla.Client(live.url, user.token) as other:
            for number in range(100):
                if stop.wait(0.2):
                    return
                other.compute_clusters.create(
                    f"after-{number}", cloud_provider="local", region="local"
                )

    threading.Thread(target=keep_creating, daemon=True).start()
    try:
        event = next(client.events(follow=True, object_kind="compute_cluster", poll=0.1))
    finally:
        stop.set()
    assert event.object_id.startswith("after-")
    assert event.reason == "CLUSTER_CREATED"


def test_following_events_from_an_id_yields_every_later_one_oldest_first(
    client: flotilla.Client,
) -> None:
    for name in ("a", "b", "c"):
        client.compute_clusters.create(name, cloud_provider="local", region="local")
    first = next(client.events(object_id="a"))
    followed = client.events(follow=True, after_id=first.id, object_kind="compute_cluster")
    assert [e.object_id for e in itertools.islice(followed, 2)] == ["b", "c"]
