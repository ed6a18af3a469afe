"""The matcher meets its targets on the labelled phrasings, and the loader refuses bad sets."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.flows import load_library
from bot.flows.evaluate import evaluate, load_phrasings

PHRASINGS = Path(__file__).resolve().parents[1] / "data" / "flow_phrasings"
LIBRARY = load_library()


def test_the_labelled_set_is_big_and_varied() -> None:
    items = load_phrasings(PHRASINGS)
    core = [p for p in items if p.source.startswith("core.yaml")]
    assert len(core) >= 150
    assert {p.flow for p in core if p.flow} >= {"password-reset", "vpn", "printer", "dns"}
    assert sum(p.kind == "non_problem" for p in core) >= 20
    assert sum(p.kind == "out_of_library" for p in core) >= 20
    assert len({p.text for p in core}) == len(core), "duplicate phrasings"


def test_the_matcher_meets_its_targets_on_the_labelled_set() -> None:
    report = evaluate(load_phrasings(PHRASINGS), LIBRARY)
    detail = "\n".join(report.lines() + report.failures)
    assert report.problems >= 150, detail
    assert report.top1 >= 0.95, detail
    assert report.wrong_rate <= 0.02, detail
    assert report.non_problem_matches == 0, detail
    assert report.no_match_precision >= 0.95, detail
    assert report.meets_targets()


def test_every_labelled_flow_exists(tmp_path: Path) -> None:
    # A phrasing naming a flow the library lacks is skipped and counted, never guessed.
    (tmp_path / "x.yaml").write_text(
        "- {text: printer offline, flow: printer, kind: problem}\n"
        "- {text: zebra label printer jammed, flow: label-printer, kind: problem}\n"
    )
    report = evaluate(load_phrasings(tmp_path), LIBRARY)
    assert (report.problems, report.correct, report.skipped) == (1, 1, 1)


@pytest.mark.parametrize(
    "body",
    [
        "{text: a}",  # not a list
        "- {text: printer offline, flow: printer}",  # no kind
        "- {text: printer offline, flow: null, kind: problem}",  # a problem without a flow
        "- {text: thanks, flow: printer, kind: non_problem}",  # small talk with a flow
        "- {flow: printer, kind: problem}",  # no text
    ],
)
def test_a_malformed_set_is_refused_with_its_place(tmp_path: Path, body: str) -> None:
    (tmp_path / "bad.yaml").write_text(body + "\n")
    with pytest.raises(ValueError, match="bad.yaml"):
        load_phrasings(tmp_path)


def test_every_third_entry_is_held_out(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "".join(f"- {{text: t{i}, flow: null, kind: non_problem}}\n" for i in range(6))
    )
    assert [p.held_out for p in load_phrasings(tmp_path)] == [False, False, True] * 2
