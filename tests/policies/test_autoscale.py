"""Each autoscaling rule, stated in a few lines with exact times."""

from __future__ import annotations

from dataclasses import replace

from flotilla.domain.specs import AutoscaleConfig
from flotilla.policies.autoscale import ScalerState, TrafficWindow, decide_replicas

CFG = AutoscaleConfig(
    min_replicas=0,
    max_replicas=10,
    target_concurrency=4,
    scale_up_delay_seconds=0,
    scale_down_delay_seconds=300,
    scale_to_zero_delay_seconds=1800,
)


def run(cfg, traffic, current, times, state=None):
    """Decide at each time in ``times`` with the same traffic; return (decisions, state)."""
    state = state or ScalerState()
    decisions = []
    for now in times:
        decision, state = decide_replicas(cfg, traffic, state, current, now)
        decisions.append(decision)
        current = decision.desired_replicas
    return decisions, state


def test_a_request_held_at_zero_replicas_starts_one_at_once() -> None:
    decision, _ = decide_replicas(
        CFG, TrafficWindow(held=3, last_request_at=100.0), ScalerState(), 0, 100.0
    )
    assert decision.desired_replicas == 1
    assert "scale from zero" in decision.reason


def test_scale_from_zero_ignores_the_scale_up_delay() -> None:
    cfg = CFG.model_copy(update={"scale_up_delay_seconds": 60})
    decision, _ = decide_replicas(
        cfg, TrafficWindow(held=1, last_request_at=5.0), ScalerState(), 0, 5.0
    )
    assert decision.desired_replicas == 1


def test_concurrency_sets_replicas_at_target_concurrency_each() -> None:
    traffic = TrafficWindow(stable_concurrency=9.5, burst_concurrency=9.5, last_request_at=10.0)
    decision, _ = decide_replicas(CFG, traffic, ScalerState(), 2, 10.0)
    assert decision.desired_replicas == 3
    assert decision.reason == "concurrency 9.5 > 4 × 2 replicas"


def test_a_burst_in_the_short_window_scales_up_before_the_long_average_moves() -> None:
    traffic = TrafficWindow(stable_concurrency=2.0, burst_concurrency=30.0, last_request_at=10.0)
    decision, _ = decide_replicas(CFG, traffic, ScalerState(), 1, 10.0)
    assert decision.desired_replicas == 7  # ⌈30 / 4.4⌉: the top of the ±10% band


def test_the_stable_window_refines_what_the_short_window_started() -> None:
    traffic = TrafficWindow(stable_concurrency=34.0, burst_concurrency=34.0, last_request_at=10.0)
    decision, _ = decide_replicas(CFG, traffic, ScalerState(), 7, 10.0)
    assert decision.desired_replicas == 9  # 34 > 4 × 7 × 1.1: ⌈34 / 4⌉, at target again


def test_growth_waits_for_the_scale_up_delay() -> None:
    cfg = CFG.model_copy(update={"scale_up_delay_seconds": 30})
    traffic = TrafficWindow(stable_concurrency=16, burst_concurrency=16, last_request_at=0.0)
    decisions, _ = run(cfg, traffic, 1, [0.0, 10.0, 29.0, 30.0])
    assert [d.desired_replicas for d in decisions] == [1, 1, 1, 4]


def test_max_replicas_caps_growth() -> None:
    traffic = TrafficWindow(stable_concurrency=400, burst_concurrency=400, last_request_at=0.0)
    decision, _ = decide_replicas(CFG, traffic, ScalerState(), 1, 0.0)
    assert decision.desired_replicas == 10


def test_min_replicas_holds_without_traffic() -> None:
    cfg = CFG.model_copy(update={"min_replicas": 2})
    decision, _ = decide_replicas(cfg, TrafficWindow(), ScalerState(), 0, 0.0)
    assert decision.desired_replicas == 2


def test_scale_down_only_after_its_delay() -> None:
    busy = TrafficWindow(stable_concurrency=16, burst_concurrency=16, last_request_at=0.0)
    _, state = run(CFG, busy, 4, [0.0])
    quiet = TrafficWindow(stable_concurrency=4, burst_concurrency=4, last_request_at=1.0)
    times = [float(t) for t in range(10, 400, 10)]
    decisions, _ = run(CFG, quiet, 4, times, state)
    first_down = next(t for t, d in zip(times, decisions, strict=True) if d.desired_replicas < 4)
    assert 300.0 <= first_down <= 330.0
    assert decisions[-1].desired_replicas == 1


def test_jittery_load_does_not_flap() -> None:
    state, current, history = ScalerState(), 3, []
    for second in range(0, 600, 5):
        conc = 11.0 if second % 10 else 8.5  # jumps between 3 and 2.1 replicas' worth
        traffic = TrafficWindow(
            stable_concurrency=conc, burst_concurrency=conc, last_request_at=float(second)
        )
        decision, state = decide_replicas(CFG, traffic, state, current, float(second))
        current = decision.desired_replicas
        history.append(current)
    assert set(history) == {3}


def test_scale_to_zero_only_after_scale_to_zero_delay() -> None:
    idle = TrafficWindow(last_request_at=0.0)
    times = [float(t) for t in range(0, 2000, 60)]
    decisions, _ = run(CFG, idle, 1, times)
    zero_at = next(t for t, d in zip(times, decisions, strict=True) if d.desired_replicas == 0)
    assert zero_at == 1800.0
    assert all(d.desired_replicas == 1 for t, d in zip(times, decisions, strict=True) if t < 1800)


def test_scale_to_zero_respects_min_replicas() -> None:
    cfg = CFG.model_copy(update={"min_replicas": 1})
    decisions, _ = run(cfg, TrafficWindow(last_request_at=0.0), 1, [0.0, 5000.0])
    assert decisions[-1].desired_replicas == 1


def test_lowering_max_replicas_scales_down_at_once() -> None:
    cfg = CFG.model_copy(update={"max_replicas": 2})
    traffic = TrafficWindow(stable_concurrency=40, burst_concurrency=40, last_request_at=0.0)
    decision, _ = decide_replicas(cfg, traffic, ScalerState(), 6, 0.0)
    assert decision.desired_replicas == 2


def test_scaler_state_round_trips_through_json() -> None:
    busy = TrafficWindow(stable_concurrency=16, burst_concurrency=16, last_request_at=0.0)
    _, state = run(CFG, busy, 4, [0.0, 31.0, 62.0])
    assert ScalerState.from_json(state.to_json()) == state
    assert len(state.down_buckets) <= 11


# ---------------------------------------------------------------------------- burst headroom

HEADROOM = CFG.model_copy(
    update={"min_replicas": 1, "warmup_seconds": 60, "burst_memory_seconds": 3600}
)


def step(cfg, conc, current, now, state):
    traffic = TrafficWindow(stable_concurrency=conc, burst_concurrency=conc, last_request_at=now)
    return decide_replicas(cfg, traffic, state, current, now)


def burst(cfg, state, current, start, base=2.0, peak=14.0, length=60):
    """Load at ``base``, ``peak`` for ``length`` s from ``start``, then ``base`` again for the
    scale-down delay; returns (state, replicas at the end)."""
    for now in range(start, start + length + 400, 10):
        conc = peak if start + 60 <= now < start + 60 + length else base
        decision, state = step(cfg, conc, current, float(now), state)
        current = decision.desired_replicas
    return state, current


def test_a_burst_seen_leaves_spare_replicas_for_the_next_one() -> None:
    _, current = burst(HEADROOM, ScalerState(), 2, 0)
    assert current == 4  # ⌈(2 + 12) / 4.4⌉: the level before plus the rise seen, at target ±10%


def test_burst_headroom_is_explained_in_the_decision() -> None:
    state, _ = burst(HEADROOM, ScalerState(), 2, 0)
    decision, _ = step(HEADROOM, 2.0, 1, 500.0, state)
    assert decision.desired_replicas == 4
    assert decision.reason.startswith("burst headroom: concurrency 2.0, rises of 12.0")


def test_a_slow_rise_keeps_no_extra_headroom() -> None:
    state, current = ScalerState(), 1
    for now in range(0, 3600, 10):  # 2 → 14 in flight over an hour
        decision, state = step(HEADROOM, 2.0 + 12.0 * now / 3600, current, float(now), state)
        current = decision.desired_replicas
    assert current == 4  # ⌈14 / 4⌉, nothing more


def quiet_after(state, current, start, end):
    kept = {}
    for now in range(start, end, 10):
        decision, state = step(HEADROOM, 2.0, current, float(now), state)
        current = kept[now] = decision.desired_replicas
    return kept


def test_burst_headroom_is_forgotten_after_the_burst_memory() -> None:
    state, current = burst(HEADROOM, ScalerState(), 4, 0)  # 4 replicas meet it: no queue
    kept = quiet_after(state, current, 500, 4400)
    assert kept[3600] == 4  # the burst at 60-120 s is still remembered
    assert kept[4390] == 1  # forgotten, and the scale-down delay passed


def test_a_rise_that_outgrew_the_replicas_is_kept_a_third_as_long() -> None:
    state, current = burst(HEADROOM, ScalerState(), 2, 0)  # 2 replicas are sized for 8.8 < 14
    kept = quiet_after(state, current, 500, 2000)
    assert kept[1190] == 4  # a third of the 3600 s memory
    assert kept[1990] == 1


def test_a_queue_is_not_remembered_as_load() -> None:
    # 1 replica, then in-flight explodes to 300 (a queue behind a replica sized for 4)
    _, current = burst(HEADROOM, ScalerState(), 1, 0, base=2.0, peak=300.0)
    assert current == 2  # the rise is remembered at most as 1.5 × 4.4 (1 replica, +10%) = 6.6


def test_a_bigger_burst_is_learned_over_the_next_ones() -> None:
    state, current = burst(HEADROOM, ScalerState(), 1, 0, peak=300.0)
    assert current == 2
    state, current = burst(HEADROOM, state, current, 600, peak=300.0)
    assert current == 4  # rise at most 1.5 × 8.8 = 13.2: ⌈(2 + 13.2) / 4.4⌉
    state, current = burst(HEADROOM, state, current, 1200, peak=300.0)
    assert current == 7  # rise at most 1.5 × 17.6 = 26.4: ⌈(2 + 26.4) / 4.4⌉


def test_a_burst_met_without_a_queue_corrects_sizes_measured_in_one() -> None:
    state, current = ScalerState(), 1
    for start in (0, 600, 1200):  # three bursts that queue: sizes inflated up to 26.4
        state, current = burst(HEADROOM, state, current, start, peak=300.0)
    assert current == 7
    state, current = burst(HEADROOM, state, current, 1800, peak=14.0)  # met by 7 replicas
    assert current == 4  # its true rise, 12: ⌈(2 + 12) / 4.4⌉


def test_burst_memory_of_zero_keeps_no_headroom() -> None:
    cfg = HEADROOM.model_copy(update={"burst_memory_seconds": 0})
    state, current = burst(cfg, ScalerState(), 1, 0)
    assert current == 1
    assert state.rises == ()


def test_headroom_does_not_hold_off_scale_to_zero() -> None:
    cfg = HEADROOM.model_copy(update={"min_replicas": 0, "scale_to_zero_delay_seconds": 600})
    state, _ = burst(cfg, ScalerState(), 1, 0)
    idle = TrafficWindow(last_request_at=460.0)
    decision, _ = decide_replicas(cfg, idle, state, 4, 1060.0)
    assert decision.desired_replicas == 0


def test_headroom_state_round_trips_through_json_and_stays_bounded() -> None:
    state, _ = burst(HEADROOM, ScalerState(), 1, 0)
    for start in range(600, 7200, 600):
        state, _ = burst(HEADROOM, state, 4, start)
    assert ScalerState.from_json(state.to_json()) == state
    assert len(state.recent) <= 8
    assert len(state.rises) <= 13


def test_baseline_state_keeps_its_json_shape() -> None:
    state = ScalerState(up_since=3.0, down_buckets=((0.0, 2),))
    assert state.to_json() == {"up_since": 3.0, "down_buckets": [[0.0, 2]]}


def test_a_rise_of_less_than_one_replica_keeps_nothing_spare() -> None:
    _, current = burst(HEADROOM, ScalerState(), 2, 0, base=5.0, peak=8.5)
    assert current == 2  # rises of 3.5 < 4 are the jitter the replicas' slack absorbs


def test_a_rise_that_lasts_one_sample_is_not_remembered() -> None:
    state, current = ScalerState(), 2
    for now in range(0, 600, 2):
        conc = 14.0 if now == 200 else 2.0  # one 2 s sample spikes; a bucket is 10 s
        decision, state = step(HEADROOM, conc, current, float(now), state)
        current = decision.desired_replicas
    assert state.rises == ()


def test_the_short_window_ignores_jitter_within_its_tolerance() -> None:
    traffic = TrafficWindow(stable_concurrency=8.0, burst_concurrency=9.9, last_request_at=0.0)
    decision, _ = decide_replicas(CFG, traffic, ScalerState(), 2, 0.0)
    assert decision.desired_replicas == 2  # 9.9 ≤ 2 × 4 × 1.25


# ---------------------------------------------------------------------------- queue vs load


def measured(service: float = 0.2, at: float = 0.0) -> ScalerState:
    """A deployment whose requests have taken ``service`` s in flight, measured without a queue."""
    return ScalerState(service_seconds=service, service_at=at)


def traffic(in_flight, rate, *, stable=None, stable_rate=None, ready=None, held=0, now=0.0):
    return TrafficWindow(
        stable_concurrency=in_flight if stable is None else stable,
        burst_concurrency=in_flight,
        stable_arrival_rate=rate if stable_rate is None else stable_rate,
        burst_arrival_rate=rate,
        held=held,
        last_request_at=now,
        ready=ready,
    )


def test_the_time_in_flight_is_measured_from_arrivals_by_littles_law() -> None:
    _, state = decide_replicas(CFG, traffic(6.0, 30.0, ready=2), ScalerState(), 2, 10.0)
    assert state.service_seconds == 0.2  # 6 in flight ÷ 30 arrivals/s


def test_the_time_in_flight_is_not_measured_in_a_queue_or_while_replicas_are_missing() -> None:
    queue = traffic(40.0, 30.0, ready=2)  # 40 in flight > 2 × 4 × 1.1: a queue may inflate it
    _, state = decide_replicas(CFG, queue, measured(), 2, 10.0)
    assert state.service_seconds == 0.2
    missing = traffic(6.0, 30.0, ready=1)  # one of two replicas not ready
    _, state = decide_replicas(CFG, missing, measured(), 2, 10.0)
    assert state.service_seconds == 0.2
    assert state.short_at == 10.0


def test_a_queue_behind_missing_replicas_is_not_load() -> None:
    # 20 arrivals/s × 0.2 s = 4 in flight's worth; 3 replicas were wanted, 1 is ready, and the
    # queue behind it reads as 60 in flight
    decision, _ = decide_replicas(CFG, traffic(60.0, 20.0, ready=1), measured(), 3, 10.0)
    assert decision.desired_replicas == 3  # holds: the missing replicas are on their way
    without_arrivals, _ = decide_replicas(CFG, traffic(60.0, 20.0, ready=1), ScalerState(), 3, 10.0)
    assert without_arrivals.desired_replicas == 10  # in-flight alone: the queue looks like load


def test_a_queue_still_draining_after_replicas_came_back_is_not_load() -> None:
    state = replace(measured(), short_at=100.0)  # replicas were missing 100 s ago
    decision, _ = decide_replicas(CFG, traffic(60.0, 20.0, ready=3), state, 3, 200.0)
    assert decision.desired_replicas == 3
    later = replace(measured(), short_at=100.0 - CFG.traffic_history_seconds)
    decision, _ = decide_replicas(CFG, traffic(60.0, 20.0, ready=3), later, 3, 200.0)
    assert decision.desired_replicas == 10  # nothing missing explains it any more


def test_a_burst_of_arrivals_is_sized_by_its_arrival_rate_not_its_queue() -> None:
    # every replica ready, and arrivals jump to 60/s: by the time the gateway reports, a queue of
    # 100 has formed behind the one replica
    decision, _ = decide_replicas(
        CFG, traffic(100.0, 60.0, stable=3.0, stable_rate=15.0, ready=1), measured(), 1, 10.0
    )
    assert decision.desired_replicas == 3  # ⌈60 × 0.2 / 4.4⌉, not ⌈100 / 4.4⌉


def test_in_flight_that_arrivals_do_not_explain_is_load_the_requests_got_slower() -> None:
    # arrivals unchanged (20/s × 0.2 s = 4), nothing missing, yet 20 in flight: slower requests
    decision, _ = decide_replicas(CFG, traffic(20.0, 20.0, ready=1), measured(), 1, 10.0)
    assert decision.desired_replicas == 5  # ⌈20 / 4⌉


def test_a_stable_window_that_remembers_a_drained_queue_does_not_scale_up() -> None:
    # the last 300 s averaged 30 in flight (a queue long gone); the burst window shows 7
    state = replace(measured(), short_at=-1000.0)
    window = traffic(7.0, 35.0, stable=30.0, stable_rate=35.0, ready=2)
    decision, _ = decide_replicas(CFG, window, state, 2, 10.0)
    assert decision.desired_replicas == 2


def test_headroom_never_asks_for_more_than_the_load_the_rises_reached() -> None:
    state, current = burst(HEADROOM, ScalerState(), 4, 0)  # 2 → 14, met by 4 replicas
    for now in range(500, 760, 10):  # the same burst again, for longer than a warm-up
        decision, state = step(HEADROOM, 14.0, current, float(now), state)
        current = decision.desired_replicas
    assert current == 4  # ⌈14 / 4.4⌉: the floor is the burst itself, not a base below it


def test_service_time_state_round_trips_through_json() -> None:
    state = ScalerState(service_seconds=0.25, service_at=12.0, short_at=3.0)
    assert ScalerState.from_json(state.to_json()) == state
