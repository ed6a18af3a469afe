"""Reading a technician's typed reply during an offline flow (pure, no I/O).

- ``typed_option``: does the reply answer the open question? "yes", "y", "yep" answer the
  one option that starts with "Yes"; the label itself (any case, without punctuation) or the
  start of exactly one label answers it; a near miss ("Jsut this user") is only a guess, so
  the engine asks instead of answering.
- ``contradicts``: does the reply point at another flow (another product, another symptom)
  and say nothing for the current one?
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from rapidfuzz import fuzz

from bot.flows.match import DEFAULT_THRESHOLD, MatchResult, rank_flows
from bot.flows.model import Flow, FlowLibrary

MAX_ANSWER_CHARS = 80  # a longer reply is information, not a button press
CLOSE_RATIO = 80  # rapidfuzz ratio (0-100) from which a reply is a near miss of a label
SWITCH_MARGIN = 0.1  # how much better another flow must fit a reply than the current one

_YES = frozenset({"yes", "y", "yep", "yeah", "yup", "ya", "correct", "affirmative", "true"})
_NO = frozenset({"no", "n", "nope", "nah", "negative", "false"})
_PUNCT = re.compile(r"[^\w\s]+")


@dataclass(frozen=True)
class TypedOption:
    how: Literal["exact", "close"]
    label: str


def _norm(text: str) -> str:
    return " ".join(_PUNCT.sub(" ", text.casefold()).split())


def typed_option(text: str, labels: list[str]) -> TypedOption | None:
    """The option ``text`` answers (``exact``), one it nearly spells (``close``), or None."""
    said = _norm(text)
    if not said or len(text.strip()) > MAX_ANSWER_CHARS or not labels:
        return None
    normed = {label: _norm(label) for label in labels}
    for label, norm in normed.items():
        if said == norm:
            return TypedOption("exact", label)
    for words, lead in ((_YES, "yes"), (_NO, "no")):
        if said in words:
            starts = [label for label, norm in normed.items() if norm.split()[:1] == [lead]]
            if len(starts) == 1:
                return TypedOption("exact", starts[0])
    prefixed = [
        label for label, norm in normed.items()
        if len(said) >= 4 and (norm.startswith(said + " ") or norm.startswith(said))
        and (len(norm) == len(said) or not norm[len(said)].isalnum())
    ]
    if len(prefixed) == 1:
        return TypedOption("exact", prefixed[0])
    scored = sorted(
        ((fuzz.ratio(said, norm), label) for label, norm in normed.items()),
        key=lambda pair: (-pair[0], labels.index(pair[1])),
    )
    best, label = scored[0]
    runner_up = scored[1][0] if len(scored) > 1 else 0
    if best >= CLOSE_RATIO and best > runner_up:
        return TypedOption("close", label)
    return None


def contradicts(text: str, current: Flow, library: FlowLibrary) -> MatchResult | None:
    """Another flow the reply clearly describes, when it says nothing for ``current``."""
    ranked = rank_flows(text, library, limit=len(library))
    if not ranked or ranked[0].flow.id == current.id or ranked[0].score < DEFAULT_THRESHOLD:
        return None
    mine = next((r.score for r in ranked if r.flow.id == current.id), 0.0)
    if mine >= DEFAULT_THRESHOLD or ranked[0].score < mine + SWITCH_MARGIN:
        return None
    return ranked[0]


def flow_score(text: str, flow_id: str, library: FlowLibrary) -> float | None:
    """How well ``text`` fits one flow (the matcher's score), None when it does not rank."""
    for result in rank_flows(text, library, limit=len(library)):
        if result.flow.id == flow_id:
            return result.score
    return None


def other_flows(
    text: str, current_id: str, library: FlowLibrary, limit: int = 3, floor: float = 0.2
) -> list[Flow]:
    """The next best flows for ``text`` after ``current_id`` (the "Wrong flow?" choices)."""
    ranked = rank_flows(text, library, limit=limit + 1)
    return [r.flow for r in ranked if r.flow.id != current_id and r.score >= floor][:limit]
