"""Render the README's digest example and docs/examples/stats-chart.png with the real code,
from fixed sample numbers (no database, no Slack):

    .venv/bin/python scripts/stats_example.py            # prints the digest as text
    .venv/bin/python scripts/stats_example.py --png docs/examples/stats-chart.png
"""

from __future__ import annotations

import argparse
import random
import sys
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.render.chart import DayBar, stats_chart_png  # noqa: E402
from bot.render.digest import DigestData, render_digest  # noqa: E402
from bot.sandbox.render_text import render_blocks  # noqa: E402

LAST = date(2026, 11, 23)


def sample_days() -> list[DayBar]:
    rnd = random.Random(7)
    out = []
    for n in range(7):
        day = LAST - timedelta(days=6 - n)
        busy = 4 if day.weekday() >= 5 else 12
        out.append(DayBar(day.isoformat(), resolved=busy - rnd.randint(2, 4),
                          escalated=rnd.randint(0, 2), abandoned=rnd.randint(0, 1),
                          open=rnd.randint(0, 2) if n >= 5 else 0))
    return out


def sample_digest() -> DigestData:
    return DigestData(
        day=LAST.isoformat(), opened=11, resolved=8, escalated=2, median_text="38m 10s",
        domains=[("m365", 5), ("network", 3), ("printing", 2)],
        waiting=[("0", "VPN drops every hour for the Leeds office", None, "26h 40m", "U0DANA")],
        waiting_total=1,
        stale=[("Teams crashes at start on one laptop", None, "3h 12m", "U0ELI")], stale_total=1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--png", type=Path)
    args = parser.parse_args()
    msg = render_digest(sample_digest())
    shown = render_blocks(msg.blocks, msg.text, users={"U0DANA": "dana", "U0ELI": "eli"}, width=88)
    print("── FlowPilot in #it-digest ──")
    print("\n".join(shown.lines))
    if args.png:
        args.png.write_bytes(stats_chart_png("FlowPilot · workspace · 2026-11-17 to 2026-11-23",
                                             sample_days(), {5: 14, 4: 6, 3: 2, 2: 1, 1: 1}))
        print(f"(chart written to {args.png})")


if __name__ == "__main__":
    main()
