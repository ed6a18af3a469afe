"""The stats message, the chart and the window parser, without a database."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from bot.errors import DomainError
from bot.render.chart import HEIGHT, WIDTH, DayBar, stats_chart_png
from bot.render.home import HomeSession, HomeView, render_home
from bot.render.stats import FeedbackLine, ModelUsage, StatLine, StatsView, render_stats
from bot.services.stats import cost_usd, model_of, parse_window


def _png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize("days,ratings", [
    ([], {}),  # empty window
    ([DayBar("2026-11-01")] * 7, {}),  # days with nothing
    ([DayBar(f"2026-09-{d % 28 + 1:02d}", 10_000, 5_000, 1, 2) for d in range(90)],
     {5: 10**6, 1: 3}),  # huge numbers, 90 bars
    ([DayBar("2026-11-01", -3, 2, -1, 0)], {7: 4, 0: 2, 3: -1}),  # nonsense: drawn as nothing
])
def test_the_chart_is_a_png_of_the_right_size_whatever_the_numbers(
        days: list[DayBar], ratings: dict[int, int]) -> None:
    image = _png(stats_chart_png("FlowPilot · " + "x" * 500, days, ratings))
    assert image.format == "PNG" and image.size == (WIDTH, HEIGHT)


def test_the_chart_draws_the_bars_in_the_outcome_colours() -> None:
    image = _png(stats_chart_png("t", [DayBar("2026-11-01", resolved=8)], {5: 1})).convert("RGB")
    colours = {c for _, c in image.getcolors(maxcolors=100_000) or []}
    assert (0, 114, 178) in colours  # resolved
    assert (0, 158, 115) in colours  # the ratings bar


def _view(**kw: object) -> StatsView:
    v = StatsView(window="7d", since="2026-11-18", until="2026-11-24", own_only=False, user="U1")
    for k, val in kw.items():
        setattr(v, k, val)
    return v


def test_an_empty_window_says_no_sessions_yet_with_zeros() -> None:
    msg = render_stats(_view())
    assert "No sessions yet in this window: 0 opened · 0 resolved · 0 escalated" in str(msg.blocks)
    assert msg.text.startswith("FlowPilot stats (last 7d)")


def test_hostile_text_cannot_ping_or_break_the_message() -> None:
    hostile = "<!channel> <@U999> ``` *bold* " + "y" * 5000
    v = _view(opened=3, resolved=1, ratings={5: 1},
              feedback=[FeedbackLine(5, hostile, hostile, "U2")] * 3,
              domains=[(hostile, 3)], flows=[(hostile, 2)], actions=[(hostile, 1)],
              usage=[ModelUsage("claude-sonnet-5-5", 10, 10, 0, 0, 0.0001)],
              quality=[StatLine(hostile, hostile)])
    msg = render_stats(v)
    text = json.dumps(msg.blocks)
    assert "<!channel>" not in text and "<@U999>" not in text
    assert len(msg.blocks) <= 50 and all(len(json.dumps(b)) < 8000 for b in msg.blocks)
    assert "<$0.01" in text


def test_rates_and_cost_read_as_people_expect() -> None:
    v = _view(opened=10, resolved=6, first_session_resolved=3, reached_outcome=8,
              ratings={5: 2, 4: 1, 2: 1},
              usage=[ModelUsage("claude-sonnet-5-5", 1_000_000, 100_000, 2_000_000, 500_000,
                                cost_usd("claude-sonnet-5-5", 1_000_000, 100_000, 2_000_000,
                                         500_000)),
                     ModelUsage("some-future-model", 5, 5, 0, 0, None)])
    text = str(render_stats(v).blocks)
    assert "38% (3 of 8" in text and "4.0/5 from 4" in text
    # $2 in + $10 × 0.1 out + $0.20 × 2 reads + $4 × 0.5 1h writes = $5.40
    assert "estimated cost $5.40" in text and "no price known" in text


def test_cache_writes_are_priced_at_the_ttl_in_use() -> None:
    assert cost_usd("claude-sonnet-5-5", 0, 0, 0, 1_000_000, "5m") == pytest.approx(2.50)
    assert cost_usd("claude-sonnet-5-5", 0, 0, 0, 1_000_000, "1h") == pytest.approx(4.00)
    assert cost_usd("claude-sonnet-5-5", 0, 0, 1_000_000, 0) == pytest.approx(0.20)
    assert cost_usd("not-a-model", 1, 1, 1, 1) is None


def test_model_of_reads_the_prompt_snapshot() -> None:
    assert model_of("claude claude-opus-5-5; system prompt sha256:ab") == "claude-opus-5-5"
    assert model_of("offline: built-in flows (no model prompt)") == "offline"
    assert model_of(None) == "offline"


@pytest.mark.parametrize("text,window", [("", "7d"), ("30d", "30d"), (" 90D ", "90d")])
def test_windows(text: str, window: str) -> None:
    assert parse_window(text) == window


@pytest.mark.parametrize("text", ["5y", "1d", "7d 30d", "-7d", "`7d`", "x" * 10_000])
def test_a_bad_window_is_one_short_line(text: str) -> None:
    with pytest.raises(DomainError) as err:
        parse_window(text)
    assert "7d" in str(err.value) and "90d" in str(err.value) and len(str(err.value)) < 160
    assert str(err.value).count("`") % 2 == 0  # the user's backticks cannot break the code span


def test_app_home_keeps_within_100_blocks() -> None:
    many = [HomeSession(f"{n:032x}", "x" * 3000, "escalated", None, "U1", "waiting 1h")
            for n in range(300)]
    view = render_home(HomeView(user="U1", mine=many, waiting=many, waiting_total=300,
                                team_name="T", team_stale=many, team_stale_total=300,
                                is_admin=True, settings=[("a", "b")] * 200))
    assert view["type"] == "home" and len(view["blocks"]) <= 100
