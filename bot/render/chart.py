"""The stats chart as a PNG, drawn with Pillow (no display, no fonts from the system).

Left: sessions opened per day, stacked by what became of them. Right: the CSAT
distribution (ratings 1–5). Pure: numbers in, PNG bytes out; an empty window draws empty
axes with a "no sessions yet" note rather than failing.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 1000, 440
BACKGROUND = (255, 255, 255)
INK = (40, 44, 52)
GRID = (228, 230, 235)
# One colour per outcome, in stacking order (bottom first); readable for common colour
# blindness (blue/orange/grey/teal rather than red/green).
OUTCOMES: tuple[tuple[str, str, tuple[int, int, int]], ...] = (
    ("resolved", "resolved", (0, 114, 178)),
    ("escalated", "escalated", (230, 159, 0)),
    ("abandoned", "abandoned", (150, 150, 150)),
    ("open", "still open", (86, 180, 233)),
)
RATING_COLOUR = (0, 158, 115)


@dataclass(frozen=True)
class DayBar:
    day: str  # ISO date
    resolved: int = 0
    escalated: int = 0
    abandoned: int = 0
    open: int = 0

    @property
    def total(self) -> int:
        return sum(max(0, int(getattr(self, key))) for key, _, _ in OUTCOMES)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)  # Pillow's bundled font (FreeType build)
    except (TypeError, OSError):  # pragma: no cover - Pillow built without FreeType
        return ImageFont.load_default()


def _nice_max(value: int) -> int:
    """A round axis maximum ≥ value: 4, 8, 20, 40, 80, 200 … (quarters stay whole-ish)."""
    top = 4
    while top < value:
        top = top * 5 // 2 if str(top)[0] == "8" else top * 2
    return top


def _text(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, size: int,
          fill: tuple[int, int, int] = INK, anchor: str = "la") -> None:
    draw.text(xy, text, fill=fill, font=_font(size), anchor=anchor)


def stats_chart_png(title: str, days: Sequence[DayBar], ratings: dict[int, int]) -> bytes:
    """The chart for a stats window (``days`` oldest first, ``ratings`` 1–5 → count)."""
    img = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(img)
    _text(draw, (24, 16), title[:90], 20)
    _sessions_panel(draw, (24, 60, 650, HEIGHT - 60), days)
    _ratings_panel(draw, (700, 60, WIDTH - 24, HEIGHT - 60), ratings)
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def _sessions_panel(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int],
                    days: Sequence[DayBar]) -> None:
    left, top, right, bottom = box
    _text(draw, (left, top), "Sessions opened per day, by outcome", 14)
    plot_top, plot_left = top + 50, left + 56
    peak = max((d.total for d in days), default=0)
    axis_max = _nice_max(max(peak, 1))
    for i in range(5):  # grid and axis labels
        y = bottom - (bottom - plot_top) * i / 4
        draw.line([(plot_left, y), (right, y)], fill=GRID, width=1)
        _text(draw, (plot_left - 6, y), f"{axis_max * i / 4:g}", 11, anchor="rm")
    x = left
    for _key, label, colour in OUTCOMES:  # legend
        draw.rectangle([x, top + 26, x + 10, top + 36], fill=colour)
        _text(draw, (x + 14, top + 24), label, 12)
        x += 22 + int(draw.textlength(label, font=_font(12))) + 12
    if not days or peak == 0:
        _text(draw, ((plot_left + right) / 2, (plot_top + bottom) / 2), "no sessions yet", 16,
              anchor="mm")
        return
    slot = (right - plot_left) / len(days)
    width = max(2.0, slot * 0.7)
    label_every = max(1, len(days) // 10)
    for n, d in enumerate(days):
        x0 = plot_left + n * slot + (slot - width) / 2
        y = float(bottom)
        for key, _, colour in OUTCOMES:
            count = max(0, int(getattr(d, key)))  # a negative count draws nothing
            if count:
                h = (bottom - plot_top) * count / axis_max
                draw.rectangle([x0, y - h, x0 + width, y], fill=colour)
                y -= h
        if n % label_every == 0:
            _text(draw, (x0 + width / 2, bottom + 6), d.day[5:], 11, anchor="ma")


def _ratings_panel(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int],
                   ratings: dict[int, int]) -> None:
    left, top, right, bottom = box
    ratings = {k: max(0, int(v)) for k, v in ratings.items() if k in (1, 2, 3, 4, 5)}
    total = sum(ratings.values())
    heading = "CSAT (session ratings)" if not total else \
        f"CSAT {sum(k * v for k, v in ratings.items()) / total:.1f} of 5 ({total} ratings)"
    _text(draw, (left, top), heading, 14)
    peak = max(ratings.values(), default=0)
    row = (bottom - top - 50) / 5
    for n, stars in enumerate((5, 4, 3, 2, 1)):
        y = top + 50 + n * row
        _text(draw, (left, y + row / 2), f"{stars} of 5", 13, anchor="lm")
        count = max(0, int(ratings.get(stars, 0)))
        length = (right - left - 110) * count / peak if peak else 0
        if count:
            draw.rectangle([left + 56, y + row * 0.2, left + 56 + length, y + row * 0.8],
                           fill=RATING_COLOUR)
        _text(draw, (left + 62 + length, y + row / 2), str(count), 12, anchor="lm")
    if not total:
        _text(draw, ((left + right) / 2, bottom + 14), "no ratings yet", 12, anchor="mm")
