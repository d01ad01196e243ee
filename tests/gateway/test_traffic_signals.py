"""The numbers in a traffic sample, from request arrivals and departures at known times."""

from __future__ import annotations

from flotilla.gateway.signals import Traffic


def test_in_flight_is_the_time_weighted_average_with_held_requests_counted() -> None:
    traffic = Traffic(pk=7, now=0.0)
    traffic.arrive(0.0)
    traffic.arrive(1.0)  # two in flight from 1 s
    traffic.held = 1  # the second one waits for a replica
    traffic.depart(3.0, latency_ms=3000.0, failed=False)
    sample = traffic.close(now=4.0, started=0.0, start_s=1000.0, end_s=1004.0)
    # 1 request over [0,1), 2 over [1,3), 1 over [3,4): 1 + 4 + 1 = 6 request-seconds in 4 s
    assert sample["in_flight"] == 1.5
    assert (sample["arrivals"], sample["held"], sample["errors"]) == (2, 1, 0)
    assert sample["latency_ms_p50"] == sample["latency_ms_p99"] == 3000.0
    assert (sample["deployment_pk"], sample["start_s"], sample["end_s"]) == (7, 1000.0, 1004.0)
    assert sample["last_request_at"] is not None


def test_the_next_interval_starts_from_what_is_still_in_flight() -> None:
    traffic = Traffic(pk=7, now=0.0)
    traffic.arrive(0.0)
    traffic.close(now=1.0, started=0.0, start_s=0.0, end_s=1.0)
    traffic.depart(1.5, latency_ms=1500.0, failed=True)
    sample = traffic.close(now=2.0, started=1.0, start_s=1.0, end_s=2.0)
    assert sample["in_flight"] == 0.5
    assert (sample["arrivals"], sample["errors"]) == (0, 1)
    assert sample["last_request_at"] is None  # no request arrived in this interval


def test_percentiles_are_nearest_rank_over_the_interval() -> None:
    traffic = Traffic(pk=1, now=0.0)
    for ms in range(1, 101):
        traffic.arrive(0.0)
        traffic.depart(0.0, latency_ms=float(ms), failed=False)
    sample = traffic.close(now=1.0, started=0.0, start_s=0.0, end_s=1.0)
    assert (sample["latency_ms_p50"], sample["latency_ms_p99"]) == (50.0, 99.0)


def test_a_deployment_is_reported_while_recent_and_not_before_its_first_request() -> None:
    traffic = Traffic(pk=1, now=0.0)
    assert not traffic.recent(now=5.0, idle_seconds=600)
    traffic.arrive(10.0)
    assert traffic.recent(now=11.0, idle_seconds=600)
    traffic.depart(12.0, latency_ms=2000.0, failed=False)
    assert traffic.recent(now=600.0, idle_seconds=600)
    assert not traffic.recent(now=613.0, idle_seconds=600)
