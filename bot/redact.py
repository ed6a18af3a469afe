"""Secret redaction: mask credentials before any text leaves for the model or a PSA.

Patterns are bounded (no nested or unbounded quantifiers that can backtrack), so redaction is
linear in the input; a 1 MB paste takes well under a second. Workspace patterns (settings)
are added as they come: an invalid or obviously catastrophic regex is skipped, never raised.
Ordinary troubleshooting language ("password expired", "reset the user's password", "the
VPN token expired") is left alone: a value is masked only after ``=``/``:`` or when it looks
like a secret.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RedactionResult", "redact", "mask"]

_NOT_DONE = r"(?![\"']?\[REDACTED)"
_PW_KEYS = r"password|passwd|passwort|passphrase|pwd|pass|pw"
_SECRET_KEYS = (
    r"api[_-]?key|apikey|x-api-key|access[_-]?key|access[_-]?token|auth[_-]?token|"
    r"refresh[_-]?token|id[_-]?token|bot[_-]?token|token|client[_-]?secret|app[_-]?secret|"
    r"shared[_-]?secret|secret[_-]?key|secret|private[_-]?key|sas[_-]?token"
)
_STOPWORDS = frozenset(
    {
        "expired", "expires", "expiring", "expire", "reset", "required", "changed", "change",
        "incorrect", "invalid", "wrong", "correct", "missing", "empty", "blank", "none", "null",
        "n/a", "na", "never", "locked", "unknown", "set", "not", "policy", "complexity", "length",
        "age", "history", "prompt", "prompts", "dialog", "field", "manager", "mismatch",
        "rejected", "accepted", "denied", "failed", "failure", "error", "ok", "yes", "no", "true",
        "false", "same", "different",
    }
)
_SYMBOLS = set("!@#$%^&*()+=[]{}~?<>|\\:;,_")


@dataclass(frozen=True)
class RedactionResult:
    text: str
    count: int = 0
    kinds: list[str] = field(default_factory=list)


def mask(kind: str) -> str:
    return f"[REDACTED:{kind}]"


def _bare(value: str) -> str:
    return value.strip("\"'").rstrip(".,;:!?)]}").strip()


def _looks_secret(value: str) -> bool:
    """A free-standing word that looks like a password rather than English."""
    if value[:1] in ("'", '"') and value[-1:] == value[:1]:
        inner = value[1:-1].strip()
        return bool(inner) and inner.lower() not in _STOPWORDS and set(inner) != {"*"}
    word = _bare(value)
    if len(word) < 5 or word.lower() in _STOPWORDS:
        return False
    has_alpha = any(c.isalpha() for c in word)
    has_digit = any(c.isdigit() for c in word)
    if has_digit and has_alpha:
        return True
    if any(c in _SYMBOLS for c in word) and (has_alpha or has_digit):
        return True
    return has_digit and not has_alpha and len(word) >= 8


def _assigned_value_ok(m: re.Match[str]) -> bool:
    """``key = value`` is always a secret; ``key: value`` unless the value is an English word."""
    value = m.group("s")
    bare = _bare(value).lower()
    if not bare or set(bare) <= {"*", "x"}:
        return False
    if m.group("sep") == "=":
        return True
    if bare in _STOPWORDS:
        return False
    key = m.group("k").lower()
    return not (key in ("pass", "token", "secret") and not _looks_secret(value))


def _phrase_ok(m: re.Match[str]) -> bool:
    """After "password is/was/to" an all-letter word is a password too ("her password is
    bluebirdsunset"), unless it reads as English ("is being reset", "is expired")."""
    value = m.group("s")
    if _looks_secret(value):
        return True
    verb = m.groupdict().get("v")
    return bool(verb) and _secret_word(value)


_ENGLISH_ENDINGS = ("ing", "ed", "ly", "able", "ible", "tion")
_ENGLISH = frozenset({
    "being", "still", "the", "this", "that", "these", "those", "what", "whatever", "too",
    "very", "now", "also", "fine", "good", "bad", "weak", "strong", "long", "short", "case",
    "sensitive", "in", "on", "at", "for", "from", "with", "known", "shown", "hidden", "visible",
    "masked", "please", "just", "only", "supposed", "right", "there", "here", "saved", "stored",
    "something", "nothing", "anything", "correct", "current", "old", "new", "temporary",
    "working", "complex", "simple", "unique", "their", "his", "her", "our", "your", "my", "its",
    "same", "different", "valid", "okay", "because", "probably", "definitely", "actually",
    "under", "over", "about", "like", "unchanged", "wrong", "again", "already", "outdated",
})


def _secret_word(value: str) -> bool:
    word = _bare(value)
    if value[:1] in ("'", '"'):
        return _looks_secret(value)
    lower = word.lower()
    if len(word) < 6 or lower in _STOPWORDS or lower in _ENGLISH:
        return False
    return not lower.endswith(_ENGLISH_ENDINGS)


def _changed_to_ok(m: re.Match[str]) -> bool:
    """"changed it to X": a password when X looks like one, or when the message is about a
    password and X is not an English word."""
    value = m.group("s")
    if _looks_secret(value):
        return True
    about = m.string[max(0, m.start() - 300) : m.start()].lower()
    return any(w in about for w in ("password", "passwd", "pw ", "pwd", "passphrase")) and \
        _secret_word(value)


def _word_ok(m: re.Match[str]) -> bool:
    """A value after a key that is always secret (PSK, TAP…): anything but an English word."""
    value = m.group("s")
    return _looks_secret(value) or _secret_word(value)


Check = Callable[[re.Match[str]], bool]


@dataclass(frozen=True)
class _Rule:
    kind: str
    pattern: re.Pattern[str]
    needles: tuple[str, ...] = ()  # lower-case substrings; the rule runs only if one occurs
    check: Check | None = None
    kind_from_key: bool = False


def _c(pattern: str, flags: int = re.IGNORECASE) -> re.Pattern[str]:
    return re.compile(pattern, flags)


def _key_kind(key: str) -> str:
    key = key.lower()
    if re.search(r"pass|pw", key):
        return "password"
    if "token" in key:
        return "token"
    if "key" in key:
        return "api_key"
    return "secret"


_VALUE = r"(?P<s>" + _NOT_DONE + r"(?:\"[^\"\n]{1,200}\"|'[^'\n]{1,200}'|[^\s\"'<>][^\s\"'<>]{0,199}))"
_IS = r"(?:[ \t]{1,5}(?:is|was|are))?[ \t]{0,5}[:=]?[ \t]{0,5}"
_MORE_RULES: tuple[_Rule, ...] = (
    # BitLocker recovery passwords: eight groups of six digits.
    _Rule("bitlocker_key", _c(r"\b\d{6}(?:-\d{6}){7}\b", 0), ("-",)),
    # net use \\srv\share <password> /user:dom\user   |   net use … /user:dom\user <password>
    _Rule("password", _c(r"\bnet[ \t]{1,5}use\b[^\n]{0,300}?[ \t]/u(?:ser)?:[^\s]{1,100}[ \t]{1,5}"
                         r"(?P<s>" + _NOT_DONE + r"[^\s/*][^\s]{0,199})"), ("net",)),
    _Rule("password", _c(r"\bnet[ \t]{1,5}use[ \t]{1,5}(?:[A-Za-z*]:[ \t]{1,5})?\\\\[^\s]{1,200}[ \t]{1,5}"
                         r"(?P<s>" + _NOT_DONE + r"[^\s/*][^\s]{0,199})"), ("net",)),
    # net user <name> <password> [/add|/domain]; "*" asks at the prompt and is kept
    _Rule("password", _c(r"\bnet[ \t]{1,5}user[ \t]{1,5}(?:\"[^\"\n]{1,64}\"|[^\s/\"]{1,64})[ \t]{1,5}"
                         r"(?P<s>" + _NOT_DONE + r"[^\s/*][^\s]{0,199})"), ("net",)),
    # ldapsearch/ldapmodify … -w <bind password>; sshpass -p; mysql -p<pw>; curl -u user:pw
    _Rule("password", _c(r"\b(?:ldap[a-z]{2,10}|sshpass)\b[^\n]{0,500}?[ \t]-[wp][ \t]{0,5}"
                         r"(?P<s>" + _NOT_DONE + r"(?:'[^'\n]{1,200}'|\"[^\"\n]{1,200}\"|[^\s'\"-][^\s]{0,199}))"),
          ("ldap", "sshpass")),
    _Rule("password", _c(r"\bmysql(?:dump|admin)?\b[^\n]{0,300}?[ \t]-p(?P<s>" + _NOT_DONE + r"[^\s-][^\s]{0,199})"),
          ("mysql",)),
    _Rule("password", _c(r"(?:^|[ \t])(?:-u|--user)[ \t]{1,5}[^\s:]{1,100}:(?P<s>" + _NOT_DONE + r"[^\s]{1,200})"),
          ("-u", "--user")),
    # LDAP bind passwords by name
    _Rule("password", _c(r"\bbind[ \t_-]?(?:pw|pwd|password|passwd|credentials?)\b[\"']?" + _IS + _VALUE),
          ("bind",), check=_word_ok),
    # "changed it to X", "set it to X", "reset it to X"
    _Rule("password", _c(r"\b(?:changed|set|reset|updated)[ \t]{1,5}(?:it|that|this|them)[ \t]{1,5}to[ \t]{1,5}"
                         + _VALUE), ("it to", "that to", "this to", "them to"), check=_changed_to_ok),
    # Wi-Fi: PSKs, WPA keys, network keys, netsh profile XML
    _Rule("wifi_key", _c(r"<keyMaterial>(?P<s>[^<\n]{1,200})</keyMaterial>"), ("keymaterial",)),
    _Rule("wifi_key", _c(r"\b(?:psk|wpa2?(?:[ -]?(?:psk|personal))?[ \t]{0,3}(?:key|passphrase|password)|"
                         r"pre-?shared[ \t]key|network[ \t](?:security[ \t])?key|wi-?fi[ \t](?:key|pass|passphrase)|"
                         r"wireless[ \t](?:key|password|passphrase))\b" + _IS + _VALUE),
          ("psk", "wpa", "shared", "network", "wi-fi", "wifi", "wi fi", "wireless"),
          check=_word_ok),
    # Entra Temporary Access Pass, MFA backup/recovery codes, app passwords, PINs
    _Rule("tap", _c(r"(?:\bTAP\b|\b[Tt]emporary [Aa]ccess [Pp]ass\b)(?:[ \t]{1,5}code)?" + _IS + _VALUE, 0),
          ("tap", "temporary access"), check=_word_ok),
    _Rule("one_time_code", _c(r"\b(?:backup|recovery|mfa|2fa|otp|one-time|verification|scratch)[ \t]{1,5}codes?"
                              + _IS + r"(?P<s>" + _NOT_DONE + r"(?=[A-Za-z0-9-]{0,40}\d)[A-Za-z0-9]{3,10}(?:-[A-Za-z0-9]{3,10}){0,7})\b"),
          ("code",)),
    _Rule("pin", _c(r"\bPIN(?:[ \t]{1,5}(?:code|number))?" + _IS + r"(?P<s>\d{4,12})\b"), ("pin",)),
    _Rule("password", _c(r"\bapp[ \t]{1,5}password" + _IS + _VALUE), ("app",), check=_word_ok),
    # Shared secrets and community strings said in words
    _Rule("secret", _c(r"\b(?:shared[ \t]secret|radius[ \t]secret|community(?:[ \t]string)?|secret[ \t]key|"
                       r"api[ \t]key|recovery[ \t]key|passphrase)" + _IS + _VALUE),
          ("shared secret", "radius secret", "community", "secret key", "api key", "recovery key",
           "passphrase"), check=_phrase_ok),
)

_RULES: tuple[_Rule, ...] = (
    _Rule("jwt", _c(r"\beyJ[A-Za-z0-9_-]{5,4000}\.eyJ[A-Za-z0-9_-]{5,8000}\.[A-Za-z0-9_-]{0,4000}", 0), ("eyj",)),
    _Rule("aws_access_key", _c(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b", 0), ("akia", "asia", "agpa", "aida", "aroa")),
    _Rule("github_token", _c(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,255}|github_pat_[A-Za-z0-9_]{20,255})", 0), ("gh", "github_pat_")),
    _Rule("slack_token", _c(r"\b(?:xox[abposre]|xapp)-[A-Za-z0-9-]{10,250}", 0), ("xox", "xapp-")),
    _Rule("anthropic_key", _c(r"\bsk-ant-[A-Za-z0-9_-]{10,250}", 0), ("sk-ant-",)),
    _Rule("openai_key", _c(r"\bsk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,250}", 0), ("sk-",)),
    _Rule(
        "url_credentials",
        _c(r"\b[a-z][a-z0-9+.-]{1,20}://[^\s:/@<>\"']{1,256}:(?P<s>" + _NOT_DONE + r"[^\s@/<>\"']{1,256})@"),
        ("://",),
    ),
    _Rule(
        "authorization",
        _c(r"\bAuthorization[ \t]{0,5}[:=][ \t]{0,5}[\"']?(?:(?:Bearer|Basic|Token|Digest|NTLM|Negotiate)[ \t]{1,5})?"
           r"(?P<s>" + _NOT_DONE + r"[A-Za-z0-9._~+/-]{8,4000}={0,3})"),
        ("authorization",),
    ),
    _Rule("bearer_token", _c(r"\bBearer[ \t]{1,5}(?P<s>" + _NOT_DONE + r"[A-Za-z0-9._~+/-]{16,4000}={0,3})"), ("bearer",)),
    _Rule("azure_storage_key", _c(r"\bAccountKey[ \t]{0,5}=[ \t]{0,5}(?P<s>[A-Za-z0-9+/]{20,200}={0,2})"), ("accountkey",)),
    _Rule("sas_signature", _c(r"[?&]sig=(?P<s>[A-Za-z0-9%+/=]{20,300})"), ("sig=",)),
    _Rule(
        "aws_secret_key",
        _c(r"\b(?:aws_secret_access_key|aws_secret_key|aws_secret|secret_access_key)[\"']?[ \t]{0,5}[:=][ \t]{0,5}[\"']?"
           r"(?P<s>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"),
        ("secret",),
    ),
    _Rule(
        "secret",
        _c(r"(?P<q>[\"'])(?P<k>(?:[a-z_-]{0,30}[_-])?(?:" + _PW_KEYS + "|" + _SECRET_KEYS + r"))(?P=q)"
           r"[ \t]{0,5}:[ \t]{0,5}(?P<q2>[\"'])(?P<s>" + _NOT_DONE + r"(?:(?!(?P=q2))[^\\\n]|\\.){1,1000})(?P=q2)"),
        ("pass", "pw", "key", "token", "secret"),
        kind_from_key=True,
    ),
    _Rule(
        "password",
        _c(r"ConvertTo-SecureString[ \t]{1,5}(?:-String[ \t]{1,5})?(?P<s>\"[^\"\n]{1,300}\"|'[^'\n]{1,300}')"),
        ("convertto-securestring",),
    ),
    _Rule(
        "secret",
        _c(r"(?<![A-Za-z])(?P<k>" + _PW_KEYS + "|" + _SECRET_KEYS + r")\b[\"']?[ \t]{0,5}(?P<sep>[:=])[ \t]{0,5}"
           r"(?P<s>" + _NOT_DONE + r"(?:\"[^\"\n]{1,300}\"|'[^'\n]{1,300}'|[^\s;,&\"'<>]{1,300}))"),
        ("pass", "pw", "key", "token", "secret"),
        check=_assigned_value_ok,
        kind_from_key=True,
    ),
    _Rule(
        "password",
        _c(r"(?<![A-Za-z])(?P<k>password|passwd|passphrase|pwd|pass|pw)\b"
           r"(?:[ \t]{1,5}(?P<v>is|was|to|set[ \t]{1,5}to|for[ \t]{1,5}[^\s]{1,64}[ \t]{1,5}(?:is|was)))?"
           r"[ \t]{1,5}"
           r"(?P<s>" + _NOT_DONE + r"(?:\"[^\"\n]{1,200}\"|'[^'\n]{1,200}'|[^\s\"'<>(\$][^\s\"'<>]{3,199}))"),
        ("pass", "pwd", "pw"),
        check=_phrase_ok,
    ),
    *_MORE_RULES,
)

_PEM_BEGIN = re.compile(r"-----BEGIN (?:[A-Z0-9]{1,20} ){0,4}PRIVATE KEY(?: BLOCK)?-----")
_PEM_END = re.compile(r"-----END (?:[A-Z0-9]{1,20} ){0,4}PRIVATE KEY(?: BLOCK)?-----")
_PEM_BODY = re.compile(r"[A-Za-z0-9+/=\s:,-]{0,20000}")
_PEM_MAX = 20_000
# A group quantified by + or * that itself holds a + or *: the classic catastrophic shape.
_NESTED_QUANTIFIER = re.compile(r"\([^()]*[+*}][^()]*\)\s*[+*{]")


def _redact_pem(text: str, found: list[str]) -> tuple[str, int]:
    out: list[str] = []
    pos = count = 0
    next_end: re.Match[str] | None = None
    no_more_ends = False  # searched to the end once and found none: never search again
    while True:
        begin = _PEM_BEGIN.search(text, pos)
        if begin is None:
            break
        if not no_more_ends and (next_end is None or next_end.start() < begin.end()):
            next_end = _PEM_END.search(text, begin.end())
            no_more_ends = next_end is None
        if next_end is not None and next_end.start() - begin.end() <= _PEM_MAX:
            stop = next_end.end()
        else:
            body = _PEM_BODY.match(text, begin.end())
            stop = body.end() if body else begin.end()
        out.append(text[pos : begin.start()])
        out.append(mask("private_key"))
        pos = stop
        count += 1
    if not count:
        return text, 0
    out.append(text[pos:])
    found.append("private_key")
    return "".join(out), count


def _apply(rule: _Rule, text: str, found: list[str]) -> tuple[str, int]:
    count = 0

    def replace(m: re.Match[str]) -> str:
        nonlocal count
        whole = m.group(0)
        if not whole or (rule.check is not None and not rule.check(m)):
            return whole
        kind = _key_kind(m.group("k")) if rule.kind_from_key else rule.kind
        count += 1
        if kind not in found:
            found.append(kind)
        if "s" not in rule.pattern.groupindex:
            return mask(kind)
        start, end = m.start("s") - m.start(), m.end("s") - m.start()
        return whole[:start] + mask(kind) + whole[end:]

    return rule.pattern.sub(replace, text), count


def _risky(pattern: str) -> bool:
    """A shape that backtracks catastrophically: a repeat around another repeat or around an
    alternation, or a backreference. Possessive repeats and atomic groups are fine."""
    try:
        sc: Any = importlib.import_module("re._constants")
        tree = importlib.import_module("re._parser").parse(pattern)
    except Exception:  # another Python's internals, or not a regex: fall back to a heuristic
        return _NESTED_QUANTIFIER.search(pattern) is not None

    def walk(items: Any, in_repeat: bool) -> bool:
        for op, av in items:
            if op in (sc.MAX_REPEAT, sc.MIN_REPEAT):
                if in_repeat or walk(av[2], av[1] > 1):
                    return True
            elif op == sc.BRANCH:
                if in_repeat or any(walk(branch, in_repeat) for branch in av[1]):
                    return True
            elif op == sc.SUBPATTERN:
                if walk(av[-1], in_repeat):
                    return True
            elif op in (sc.ASSERT, sc.ASSERT_NOT):
                if walk(av[1], in_repeat):
                    return True
            elif op in (sc.GROUPREF, sc.GROUPREF_EXISTS):
                return True
        return False

    return walk(tree, False)


def _compile_extra(patterns: Iterable[str]) -> tuple[_Rule, ...]:
    """The workspace's extra rules; compiled (and vetted by ``_risky``) once per distinct list,
    since every message of a workspace brings the same patterns."""
    key = tuple(patterns or ())
    if not key:
        return ()
    try:
        return _compile_extra_cached(key)
    except TypeError:  # an unhashable entry: compile without the cache
        return _compile_extra_uncached(key)


def _compile_extra_uncached(patterns: tuple[Any, ...]) -> tuple[_Rule, ...]:
    rules = []
    for raw in patterns:
        if not isinstance(raw, str) or not raw or len(raw) > 500 or _risky(raw):
            continue
        try:
            rules.append(_Rule("custom", re.compile(raw)))
        except (re.error, ValueError, OverflowError, RecursionError):
            continue
    return tuple(rules)


_compile_extra_cached = functools.lru_cache(maxsize=256)(_compile_extra_uncached)


def redact(text: str, extra_patterns: Iterable[str] = ()) -> RedactionResult:
    """``text`` with every secret replaced by ``[REDACTED:<kind>]``."""
    if not text:
        return RedactionResult(text or "", 0, [])
    found: list[str] = []
    text, total = _redact_pem(text, found)
    lowered = text.lower()
    for rule in (*_RULES, *_compile_extra(extra_patterns)):
        if rule.needles and not any(n in lowered for n in rule.needles):
            continue
        text, n = _apply(rule, text, found)
        if n:
            total += n
            lowered = text.lower()
    return RedactionResult(text, total, found)
