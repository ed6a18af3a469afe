"""Intake text -> the flow that fits it best, with a score in 0..1, or None.

How it scores (see docs/flows.md):
1. Both the text and each flow's ``match`` phrases, ``keywords`` and title are normalised
   (``bot.flows.normalise``): noise dropped, abbreviations folded, words stemmed.
2. Each word of the text that is not in the flows' vocabulary is looked up with rapidfuzz
   (Indel distance confirmed with optimal string alignment, 1 edit for words of 6+ letters,
   2 for 9+, same first letter; a dropped letter at 5, a changed one from 8), so "outlok",
   "pasword", "printr", "camra" and "calender" still hit.
3. Words weigh by how specific they are across the library (inverse document frequency):
   "veeam" identifies one flow, "password" several. Generic words ("not", "work", "error",
   "file", "open", and any stem in 40% of the flows or more) weigh at most 0.2.
4. Within each window of 40 words (so a long pasted log is judged near each line), a flow
   scores ``0.75 * cover`` of its best phrase (a keyword is a phrase of one word; a phrase
   word the text lacks costs 0.75 of one it has) plus ``0.25 * mass / (mass + 4)``, where
   mass is the weight of all its words in the text (its own keywords count double). The
   mass part never saturates, so more evidence always ranks higher and no score reaches 1.
   Another flow's keyword inside one of this flow's phrases, that phrase's context kept,
   counts as this flow's keyword ("outlook app on phone" is mobile mail).
5. Evidence is required: a keyword, two distinctive words of one phrase, a whole phrase
   with a distinctive word ("cant print"), or a word naming a thing plus a word saying
   something is wrong ("printer keeps jamming", "computer freezing"). Without it a flow
   scores at most 0.45, so "restock the printer paper" matches nothing, and "not" never
   makes up the second word. Feedback with no symptom ("thanks, the outlook fix worked")
   matches nothing.
The best flow wins when it reaches ``threshold`` (0.6); ties go to the flow whose keyword
was named, then to the stronger evidence, then to the smaller (more specific) flow, then id.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace

from rapidfuzz import process
from rapidfuzz.distance import OSA, Indel

from bot.flows.model import Flow, FlowLibrary
from bot.flows.normalise import stem, stems, words

DEFAULT_THRESHOLD = 0.6
WINDOW = 40
MAX_TEXT_CHARS = 400_000
SUBSTITUTION_MIN = 8  # from this length one changed letter is a typo too
MAX_TYPO_WORD = 30  # longer "words" (base64, pasted junk) are never a typo of ours
PHRASE_WEIGHT = 0.75  # share of the score from the best phrase; the rest from evidence mass
MASS_HALF = 4.0  # evidence weight that earns half of the mass share (never saturates)
MISSING_WEIGHT = 0.75  # how much a phrase word absent from the text costs, against one present
KEYWORD_BONUS = 2.0  # a flow's own keyword weighs this much more than an ordinary word
GENERIC_SHARE = 0.4  # a stem in this share of the flows or more is generic ("not", "work")
GENERIC_WEIGHT = 0.2  # the most a generic stem weighs, however rare the library makes it
# Words that say nothing about *which* problem, whatever the library: never distinctive.
_GENERIC = "not work say file open error fail issu new get use set show run stop start keep load"
GENERIC_STEMS = frozenset(_GENERIC.split())
# Words that say something is wrong. One topic word ("printer") with one of these anywhere
# in the text is a problem ("printer keeps jamming"); a topic word alone ("restock the
# printer paper") is not.
_SYMPTOM_WORDS = """not fail failed failing error errors stuck crash crashing crashes drop dropping
    drops down offline slow freeze broken broke missing denied bounce rejected expired lost
    lockout hang loop corrupt corrupted disconnected disconnects timeout timing dodgy
    suspicious weird strange hacked compromised garbage jam jammed invalid incorrect wrong
    unavailable full spam warning cant wont keeps constantly again randomly intermittent
    unreachable blocked forever ages"""
SYMPTOMS = frozenset(stem(w) for w in _SYMPTOM_WORDS.split())
# Words saying something is sorted ("thanks, the outlook fix worked"): with no symptom and
# no "but"/"still" in the text, it is feedback, not a problem, whatever product it names.
# Thanks alone settles nothing: "thanks, outlook keeps asking for the password" is a problem.
_SETTLED = re.compile(r"\b(?:fixed|sorted|resolved|worked|works\s+now|all\s+good)\b")
_UNSETTLED = re.compile(r"\b(?:but|still|however|though|although|yet)\b")
WEAK_CAP = 0.45  # the score of a flow without enough evidence (below any sane threshold)


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
    distinctive: int  # how many of its stems are not generic


@dataclass
class _Index:
    flows: list[Flow]
    weights: dict[str, float]
    phrases: list[_Phrase]
    by_stem: dict[str, list[int]]
    flow_vocab: list[frozenset[str]]
    strong: list[frozenset[str]]  # each flow's keyword stems
    generic: frozenset[str]
    # Unstemmed vocabulary words by first letter, and the stem each stands for (typo lookup).
    by_initial: dict[str, list[str]] = field(default_factory=dict)
    raw_to_stem: dict[str, str] = field(default_factory=dict)
    any_strong: frozenset[str] = frozenset()  # every flow's keyword stems


@dataclass(frozen=True)
class _Score:
    """How one flow scored in one window; ``key`` orders flows, best last."""

    score: float
    keyword: bool
    evidence: float
    specific: float  # smaller vocabulary = more specific flow
    terms: frozenset[str]

    @property
    def key(self) -> tuple[float, bool, float, float]:
        return (round(self.score, 6), self.keyword, round(self.evidence, 6), self.specific)


def match_flow(
    text: str, library: FlowLibrary, threshold: float = DEFAULT_THRESHOLD
) -> MatchResult | None:
    """The best flow for ``text`` when its score reaches ``threshold``, else None."""
    ranked = rank_flows(text, library, limit=1)
    if ranked and ranked[0].score >= threshold:
        return ranked[0]
    return None


def rank_flows(text: str, library: FlowLibrary, limit: int = 3) -> list[MatchResult]:
    """The ``limit`` best-scoring flows for ``text``, best first (scores may be low).

    Equal scores go to the flow whose own keyword was named, then to the stronger
    evidence, then to the more specific flow (the smaller vocabulary), then by id."""
    index = _index_for(library)
    if not index.flows or not text:
        return []
    raw_words = words(text[:MAX_TEXT_CHARS])
    seq = _canonical(raw_words, index)
    best: dict[int, _Score] = {}
    seen_windows: set[frozenset[str]] = set()
    step = WINDOW // 2
    for start in range(0, max(1, len(seq) - step), step):
        hits = frozenset(s for s in seq[start : start + WINDOW] if s is not None)
        if not hits or hits in seen_windows:
            continue
        seen_windows.add(hits)
        symptoms = {stem(w) for w in raw_words[start : start + WINDOW]} & SYMPTOMS
        for fi, scored in _score_window(hits, symptoms, index).items():
            if fi not in best or scored.key > best[fi].key:
                best[fi] = scored
    if _settled(text[:MAX_TEXT_CHARS].lower(), raw_words):
        best = {fi: replace(s, score=min(s.score, WEAK_CAP)) for fi, s in best.items()}
    ordered = sorted(best.items(), key=lambda kv: (_neg(kv[1].key), index.flows[kv[0]].id))
    return [
        MatchResult(index.flows[fi], round(s.score, 4), tuple(sorted(s.terms)))
        for fi, s in ordered[:limit]
    ]


def _settled(lowered: str, raw_words: list[str]) -> bool:
    """Feedback that something works now, with nothing saying it is still broken."""
    if not _SETTLED.search(lowered) or _UNSETTLED.search(lowered):
        return False
    return not {stem(w) for w in raw_words} & SYMPTOMS


def _neg(key: tuple[float, bool, float, float]) -> tuple[float, ...]:
    return tuple(-float(k) for k in key)


def _score_window(
    hits: frozenset[str], symptoms: set[str], index: _Index
) -> dict[int, _Score]:
    candidates = {pi for s in hits for pi in index.by_stem.get(s, ())}
    best_phrase: dict[int, tuple[float, float, frozenset[str], bool]] = {}
    named: dict[int, frozenset[str]] = {}
    for pi in candidates:
        phrase = index.phrases[pi]
        found = phrase.stems & hits
        got = sum(index.weights[s] for s in found)
        # Words of the phrase the text leaves out count less than the words it has: people
        # write "takes 10 min to boot" for "pc takes forever to boot".
        cover = got / (got + MISSING_WEIGHT * (phrase.total - got)) if got else 0.0
        enough = _enough(found, phrase, index.generic)
        if enough and found & index.any_strong and _context_kept(found, phrase, index):
            # Another flow's product named in this flow's phrase, the phrase's context kept:
            # "outlook app on phone" names Outlook in mobile mail's context.
            named[phrase.flow] = named.get(phrase.flow, frozenset()) | (found & index.any_strong)
        current = best_phrase.get(phrase.flow)
        if current is None or (enough, cover, got) > (current[3], current[0], current[1]):
            best_phrase[phrase.flow] = (cover, got, found, enough)
    out = {}
    for fi, (cover, _got, found, enough) in best_phrase.items():
        vocab_hits = hits & index.flow_vocab[fi]
        keyword = bool(vocab_hits & index.strong[fi])
        # A product named inside one of this flow's own phrases counts as this flow's
        # keyword too: the phrase says in which context it is named.
        strong = index.strong[fi] | named.get(fi, frozenset())
        mass = sum(
            index.weights[s] * (KEYWORD_BONUS if s in strong else 1.0) for s in vocab_hits
        )
        score = PHRASE_WEIGHT * cover + (1 - PHRASE_WEIGHT) * mass / (mass + MASS_HALF)
        if keyword or fi in named:
            score = max(score, PHRASE_WEIGHT + (1 - PHRASE_WEIGHT) * mass / (mass + MASS_HALF))
        elif not enough and not _topic_with_symptom(vocab_hits, symptoms, index.generic):
            score = min(score, WEAK_CAP)
        specific = -float(len(index.flow_vocab[fi]))
        out[fi] = _Score(score, keyword, mass, specific, vocab_hits | found)
    return out


def _context_kept(found: frozenset[str], phrase: _Phrase, index: _Index) -> bool:
    """The text keeps the phrase's context: its own keywords all there, at most one of its
    other distinctive words missing ("outlook app on phone" for "outlook app on phone not
    syncing", but not "outlook ... fine on phone" for "outlook mobile not receiving")."""
    missing = phrase.stems - found - index.generic
    return not missing & index.strong[phrase.flow] and len(missing) <= 1


def _topic_with_symptom(
    vocab_hits: frozenset[str], symptoms: set[str], generic: frozenset[str]
) -> bool:
    """A distinctive word of the flow and, elsewhere in the text, a word saying it is broken."""
    # A topic may be a word common across the library ("pc" is in many flows) as long as it
    # names a thing rather than saying nothing ("not", "work"): "computer freezing" is a
    # problem even though "pc" is generic by share and "freezing" is the symptom.
    return any(symptoms - {topic} for topic in vocab_hits - GENERIC_STEMS - SYMPTOMS)


def _enough(found: frozenset[str], phrase: _Phrase, generic: frozenset[str]) -> bool:
    """Evidence for a flow: two distinctive words of one phrase, or a whole phrase that has
    a distinctive word ("cant print"). One topic word ("printer paper") is not a problem,
    and "not" never counts as the second word."""
    distinctive = len(found - generic)
    if distinctive >= 2:
        return True
    return distinctive >= 1 and found == phrase.stems


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
    if not 5 <= len(word) <= MAX_TYPO_WORD or not word.isalpha():
        return None
    edits = 2 if len(word) >= 9 else 1
    choices = index.by_initial.get(word[0], [])
    near = process.extract(word, choices, scorer=Indel.distance, score_cutoff=edits + 1, limit=8)
    for choice, _, _ in sorted(near, key=lambda c: (c[1], c[0])):
        if _is_typo(word, choice, edits):
            return index.raw_to_stem[choice]
    return None


def _is_typo(word: str, choice: str, edits: int) -> bool:
    if len(word) < 6:
        # Five letters: only a dropped letter ("camra"); a changed or added one is too
        # often another word.
        return len(choice) == len(word) + 1 and Indel.distance(word, choice) == 1
    indel = Indel.distance(word, choice)
    if indel <= edits:
        return True
    if len(word) >= SUBSTITUTION_MIN and len(word) == len(choice) and word[-1] == choice[-1]:
        # A long word with one letter changed inside ("calender") is a typo; short ones are
        # often other words ("random"/"ransom"), so they never get this allowance.
        return OSA.distance(word, choice) <= 1
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
    generic = frozenset(
        s for s, d in df.items() if s in GENERIC_STEMS or (n >= 5 and d / n >= GENERIC_SHARE)
    )
    weights = {
        s: min(GENERIC_WEIGHT, math.log(1 + n / d)) if s in generic else math.log(1 + n / d)
        for s, d in df.items()
    }
    phrases = [
        _Phrase(fi, ps, sum(weights[s] for s in ps), len(ps - generic)) for fi, ps in raw
    ]
    by_stem: dict[str, list[int]] = {}
    for pi, entry in enumerate(phrases):
        for s in entry.stems:
            by_stem.setdefault(s, []).append(pi)
    by_initial: dict[str, list[str]] = {}
    for w in sorted(raw_to_stem):
        by_initial.setdefault(w[0], []).append(w)
    return _Index(
        flows, weights, phrases, by_stem, flow_vocab, strong, generic, by_initial, raw_to_stem,
        frozenset().union(*strong),
    )
