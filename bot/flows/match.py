"""Intake text -> the flow that fits it best, with a score in 0..1, or None.

How it scores (see docs/flows.md):
1. Both the text and each flow's ``match`` phrases, ``keywords`` and title are normalised
   (``bot.flows.normalise``): noise dropped, abbreviations folded, words stemmed.
2. Each word of the text that is not in the flows' vocabulary is looked up with rapidfuzz
   (``process.extractOne``, optimal-string-alignment distance, 1 edit for words of 6+
   letters, 2 for 9+, same first letter), so "outlok", "pasword" and "printr" still hit.
3. Words weigh by how specific they are across the library (inverse document frequency):
   "veeam" identifies one flow, "password" several.
4. Within each window of 40 words (so a long pasted log is judged near each line), a flow
   scores the best weighted share of any one of its phrases found (a keyword is a phrase of
   one word), plus a little for every other word of its vocabulary present.
The best flow wins when it reaches ``threshold``; ties go to the more specific evidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from rapidfuzz import process
from rapidfuzz.distance import OSA, Indel

from bot.flows.model import Flow, FlowLibrary
from bot.flows.normalise import stem, stems, words

DEFAULT_THRESHOLD = 0.55
WINDOW = 40
PHRASE_WEIGHT = 0.8  # share of the score from the best phrase; the rest from vocabulary mass
FULL_MASS = 7.0  # vocabulary weight that counts as "plenty of evidence"
MAX_TEXT_CHARS = 400_000
ONE_WORD_CAP = 0.5  # one ordinary word ("print", "slow") is not enough; a keyword is


@dataclass(frozen=True)
class MatchResult:
    flow: Flow
    score: float
    terms: tuple[str, ...] = ()  # the stems that counted, for explaining the match


@dataclass(frozen=True)
class _Phrase:
    flow: int
    stems: frozenset[str]
    total: float


@dataclass
class _Index:
    flows: list[Flow]
    weights: dict[str, float]
    phrases: list[_Phrase]
    by_stem: dict[str, list[int]]
    flow_vocab: list[frozenset[str]]
    strong: list[frozenset[str]]  # each flow's keyword stems
    # Unstemmed vocabulary words by first letter, and the stem each stands for (typo lookup).
    by_initial: dict[str, list[str]] = field(default_factory=dict)
    raw_to_stem: dict[str, str] = field(default_factory=dict)


def match_flow(
    text: str, library: FlowLibrary, threshold: float = DEFAULT_THRESHOLD
) -> MatchResult | None:
    """The best flow for ``text`` when its score reaches ``threshold``, else None."""
    ranked = rank_flows(text, library, limit=1)
    if ranked and ranked[0].score >= threshold:
        return ranked[0]
    return None


def rank_flows(text: str, library: FlowLibrary, limit: int = 3) -> list[MatchResult]:
    """The ``limit`` best-scoring flows for ``text``, best first (scores may be low)."""
    index = _index_for(library)
    if not index.flows or not text:
        return []
    seq = _canonical(words(text[:MAX_TEXT_CHARS]), index)
    best: dict[int, tuple[float, float, frozenset[str]]] = {}
    seen_windows: set[frozenset[str]] = set()
    step = WINDOW // 2
    for start in range(0, max(1, len(seq) - step), step):
        hits = frozenset(s for s in seq[start : start + WINDOW] if s is not None)
        if not hits or hits in seen_windows:
            continue
        seen_windows.add(hits)
        for fi, (score, specific, terms) in _score_window(hits, index).items():
            if fi not in best or (score, specific) > best[fi][:2]:
                best[fi] = (score, specific, terms)
    ordered = sorted(best.items(), key=lambda kv: (-kv[1][0], -kv[1][1], index.flows[kv[0]].id))
    return [
        MatchResult(index.flows[fi], round(score, 4), tuple(sorted(terms)))
        for fi, (score, _, terms) in ordered[:limit]
    ]


def _score_window(
    hits: frozenset[str], index: _Index
) -> dict[int, tuple[float, float, frozenset[str]]]:
    candidates = {pi for s in hits for pi in index.by_stem.get(s, ())}
    best_phrase: dict[int, tuple[float, float, frozenset[str]]] = {}
    for pi in candidates:
        phrase = index.phrases[pi]
        found = phrase.stems & hits
        got = sum(index.weights[s] for s in found)
        cover = got / phrase.total
        current = best_phrase.get(phrase.flow)
        if current is None or (cover, got) > current[:2]:
            best_phrase[phrase.flow] = (cover, got, found)
    out = {}
    for fi, (cover, got, found) in best_phrase.items():
        vocab_hits = hits & index.flow_vocab[fi]
        mass = sum(index.weights[s] for s in vocab_hits)
        score = PHRASE_WEIGHT * cover + (1 - PHRASE_WEIGHT) * min(1.0, mass / FULL_MASS)
        if len(vocab_hits) < 2 and not vocab_hits & index.strong[fi]:
            score = min(score, ONE_WORD_CAP)
        out[fi] = (min(1.0, score), got, vocab_hits | found)
    return out


def _canonical(words: list[str], index: _Index) -> list[str | None]:
    """Each word mapped to a vocabulary stem (exact or a near typo), or None."""
    cache: dict[str, str | None] = {}
    out: list[str | None] = []
    for w in words:
        if w not in cache:
            cache[w] = _lookup(w, index)
        out.append(cache[w])
    return out


def _lookup(word: str, index: _Index) -> str | None:
    """The vocabulary stem for ``word``: its own stem, or that of a vocabulary word it
    misspells (same first letter; one dropped, added or swapped letter at 6+ letters, two at
    9+). A changed letter does not count as a typo, so "random" never becomes "ransom"."""
    stemmed = stem(word)
    if stemmed in index.weights:
        return stemmed
    if len(word) < 6 or not word.isalpha():
        return None
    edits = 2 if len(word) >= 9 else 1
    choices = index.by_initial.get(word[0], [])
    near = process.extract(word, choices, scorer=Indel.distance, score_cutoff=edits + 1, limit=8)
    for choice, _, _ in sorted(near, key=lambda c: (c[1], c[0])):
        if _is_typo(word, choice, edits):
            return index.raw_to_stem[choice]
    return None


def _is_typo(word: str, choice: str, edits: int) -> bool:
    indel = Indel.distance(word, choice)
    if indel <= edits:
        return True
    # One swap of neighbouring letters costs 2 insert/deletes; accept it as one typo.
    return OSA.distance(word, choice) <= edits and sorted(word) == sorted(choice)


def _index_for(library: FlowLibrary) -> _Index:
    key = tuple(sorted((f.id, id(f)) for f in library))
    cached = library._index
    if isinstance(cached, tuple) and cached[0] == key:
        return cached[1]  # type: ignore[no-any-return]
    index = build_index(list(library))
    library._index = (key, index)
    return index


def build_index(flows: list[Flow]) -> _Index:
    flows = sorted(flows, key=lambda f: f.id)
    raw: list[tuple[int, frozenset[str]]] = []
    raw_to_stem: dict[str, str] = {}
    for fi, flow in enumerate(flows):
        for phrase in [*flow.match, flow.title, *flow.keywords]:
            phrase_stems = frozenset(stems(phrase))
            if phrase_stems:
                raw.append((fi, phrase_stems))
            for w in words(phrase):
                if len(w) >= 5 and w.isalpha():
                    raw_to_stem.setdefault(w, stem(w))
    flow_vocab = [frozenset().union(*(ps for i, ps in raw if i == fi)) for fi in range(len(flows))]
    strong = [frozenset(s for k in f.keywords for s in stems(k)) for f in flows]
    df: dict[str, int] = {}
    for vocab in flow_vocab:
        for s in vocab:
            df[s] = df.get(s, 0) + 1
    n = max(1, len(flows))
    weights = {s: math.log(1 + n / d) for s, d in df.items()}
    phrases = [_Phrase(fi, ps, sum(weights[s] for s in ps)) for fi, ps in raw]
    by_stem: dict[str, list[int]] = {}
    for pi, entry in enumerate(phrases):
        for s in entry.stems:
            by_stem.setdefault(s, []).append(pi)
    by_initial: dict[str, list[str]] = {}
    for w in sorted(raw_to_stem):
        by_initial.setdefault(w[0], []).append(w)
    return _Index(flows, weights, phrases, by_stem, flow_vocab, strong, by_initial, raw_to_stem)
