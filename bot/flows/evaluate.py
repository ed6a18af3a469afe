"""Measure the flow matcher on labelled phrasings (``tests/data/flow_phrasings/*.yaml``).

Each file is a YAML list of ``{text, flow: <flow id> | null, kind: problem | non_problem |
out_of_library}``. The figures (see docs/flows.md):

- top-1 accuracy: problems matched to their own flow / problems;
- wrong-flow rate: problems matched to another flow / problems;
- false matches: non-problems (small talk) and out-of-library problems matched to any flow;
- no-match precision: texts the matcher left unmatched whose label is ``null`` / texts
  left unmatched (an unmatched known problem lowers it).

Every third entry of each file (0-based index % 3 == 2) is the *held-out* part: it was not
looked at while tuning the matcher, so its figures show how the matcher does on new wording.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.flows.match import match_flow
from bot.flows.model import FlowLibrary

KINDS = ("problem", "non_problem", "out_of_library")


@dataclass(frozen=True)
class Phrasing:
    text: str
    flow: str | None
    kind: str
    source: str  # file:index
    held_out: bool


@dataclass
class Report:
    problems: int = 0
    correct: int = 0
    wrong_flow: int = 0
    missed: int = 0
    non_problems: int = 0
    non_problem_matches: int = 0
    out_of_library: int = 0
    out_of_library_matches: int = 0
    unmatched: int = 0
    unmatched_right: int = 0
    skipped: int = 0  # labelled with a flow the library does not have
    failures: list[str] = field(default_factory=list)

    @property
    def top1(self) -> float:
        return self.correct / self.problems if self.problems else 1.0

    @property
    def wrong_rate(self) -> float:
        return self.wrong_flow / self.problems if self.problems else 0.0

    @property
    def no_match_precision(self) -> float:
        return self.unmatched_right / self.unmatched if self.unmatched else 1.0

    def meets_targets(self) -> bool:
        return (
            self.top1 >= 0.95
            and self.wrong_rate <= 0.02
            and self.non_problem_matches == 0
            and self.no_match_precision >= 0.95
        )

    def lines(self) -> list[str]:
        return [
            f"top-1 accuracy      {self.top1:7.1%}  ({self.correct}/{self.problems} problems)",
            f"wrong flow          {self.wrong_rate:7.1%}  ({self.wrong_flow}/{self.problems})",
            f"small talk matched  {self.non_problem_matches:4d} of {self.non_problems}",
            f"out-of-library matched {self.out_of_library_matches:4d} of {self.out_of_library}",
            f"no-match precision  {self.no_match_precision:7.1%}  "
            f"({self.unmatched_right}/{self.unmatched} unmatched texts are unlabelled)",
        ]


def load_phrasings(folder: str | Path) -> list[Phrasing]:
    """Every ``*.yaml`` in ``folder``, in file-name order; raises ValueError on a bad entry."""
    out: list[Phrasing] = []
    for path in sorted(Path(folder).glob("*.yaml")):
        entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        if not isinstance(entries, list):
            raise ValueError(f"{path.name}: expected a list of phrasings")
        for i, entry in enumerate(entries):
            out.append(_phrasing(entry, f"{path.name}:{i}", i % 3 == 2))
    return out


def _phrasing(entry: object, where: str, held_out: bool) -> Phrasing:
    if not isinstance(entry, dict) or not isinstance(entry.get("text"), str):
        raise ValueError(f"{where}: each entry needs a text")
    flow, kind = entry.get("flow"), entry.get("kind")
    if kind not in KINDS:
        raise ValueError(f"{where}: kind must be one of {', '.join(KINDS)}")
    if (flow is None) != (kind != "problem") or not (flow is None or isinstance(flow, str)):
        raise ValueError(f"{where}: a problem names its flow; other kinds have flow: null")
    return Phrasing(entry["text"], flow, kind, where, held_out)


def evaluate(phrasings: Iterable[Phrasing], library: FlowLibrary) -> Report:
    report = Report()
    for p in phrasings:
        if p.flow is not None and p.flow not in library:
            report.skipped += 1
            continue
        found = match_flow(p.text, library)
        got = found.flow.id if found else None
        if got is None:
            report.unmatched += 1
            report.unmatched_right += p.flow is None
        if p.kind == "problem":
            report.problems += 1
            report.correct += got == p.flow
            report.wrong_flow += got is not None and got != p.flow
            report.missed += got is None
        elif p.kind == "non_problem":
            report.non_problems += 1
            report.non_problem_matches += got is not None
        else:
            report.out_of_library += 1
            report.out_of_library_matches += got is not None
        if got != p.flow:
            score = f" {found.score:.2f}" if found else ""
            report.failures.append(f"{p.source}: {p.text!r}: want {p.flow}, got {got}{score}")
    return report
