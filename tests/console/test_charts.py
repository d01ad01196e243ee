"""Server-rendered SVG charts and the console's display helpers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flotilla.console.charts import Series, bar_chart, line_chart, nice_ceiling
from flotilla.console.templating import FormErrors, age, money
from flotilla.domain.errors import InvalidArgument


def test_the_axis_top_is_a_round_number_above_the_peak() -> None:
    assert [nice_ceiling(v) for v in (0, 0.7, 3, 4.2, 9.5, 11, 240)] == [1, 1, 5, 5, 10, 20, 250]


def test_a_line_breaks_where_nothing_was_measured() -> None:
    svg = line_chart("Latency", [Series("p50", [1, 2, None, 4, 5, None, 7])], "ms", ["-1h", "now"])
    assert svg.count("<polyline") == 2  # [1, 2] and [4, 5]
    assert svg.count("<circle") == 1  # [7] alone
    assert "p50: peak 7 ms, latest 7 ms" in svg


def test_an_empty_chart_says_so() -> None:
    svg = line_chart("Requests", [Series("requests/s", [None] * 5)], "req/s", ["a", "b"])
    assert "<desc>no data in this period</desc>" in svg
    assert "<polyline" not in svg


def test_text_in_charts_is_escaped() -> None:
    svg = bar_chart("Cost <per> day", [("<b>", 1.0)], "USD")
    assert "<b>" not in svg and "&lt;b&gt;" in svg


def test_form_errors_are_found_by_field_and_renamed_to_the_forms_names() -> None:
    error = InvalidArgument(
        "bad", fields={"nodepools.1.priority": "too high", "instance_types.0": "unknown"}
    )
    errors = FormErrors(error, **{"nodepools.1": "pool:c/p"})
    assert errors.at("pool:c/p") == "too high"
    assert errors.at("instance_types") == "unknown"
    assert errors.at("instance") == ""
    assert not FormErrors()


def test_ages_and_money_read_as_people_write_them() -> None:
    now = datetime(2026, 1, 2, tzinfo=UTC)
    assert age(now - timedelta(seconds=42), now) == "42s"
    assert age(now - timedelta(hours=3, minutes=5), now) == "3h"
    assert age(None) == "—"
    assert money(1234.5) == "$1,234.50"
    assert money(0.0042) == "$0.0042"


def test_small_axis_ticks_keep_their_digits() -> None:
    svg = bar_chart("Cost per day", [("11-28", 0.004)], "USD")
    assert ">0.0025</text>" in svg and ">0.005</text>" in svg
