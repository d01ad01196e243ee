"""Each autoscaling rule, stated in a few lines with exact times."""

from __future__ import annotations

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
    assert decision.desired_replicas == 8


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
