"""Knowledge rules, pure: search terms of a problem, how well a past resolution covers them,
and turning a fix's steps into a script (language, parameters, filling them from facts)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

MAX_TERMS = 24
MIN_TERM = 2
PREFIX = 5  # terms compared by their first letters: a cheap stand-in for stemming
# Words that say nothing about a problem (English stop words plus support-ticket filler).
STOP = frozenset(["a", "about", "after", "again", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be", "been", "before", "being", "but", "by", "can", "cannot", "could", "did", "do", "does", "doing", "done", "for", "from", "get", "gets", "getting", "got", "had", "has", "have", "having", "he", "her", "here", "him", "his", "how", "i", "if", "in", "into", "is", "it", "its", "just", "keep", "keeps", "me", "more", "most", "my", "no", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "out", "over", "own", "please", "same", "she", "should", "since", "so", "some", "still", "such", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "why", "will", "with", "would", "you", "your", "yes", "user", "users", "issue", "problem", "help", "need", "needs", "trying", "tried", "working", "work", "works", "anymore", "today", "yesterday", "morning", "keeps", "again"])

_WORD = re.compile(r"[a-z0-9]+")
# Technicians' shorthand and the words past resolutions use for the same thing (a generic
# MSP list; each word also searches for the words it maps to).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "pw": ("password",), "pwd": ("password",), "passwd": ("password",),
    "creds": ("credentials",), "credential": ("password",), "credentials": ("password",),
    "2fa": ("mfa",), "authenticator": ("mfa",), "otp": ("mfa",),
    "wifi": ("wireless",), "wlan": ("wireless",), "wireless": ("wifi",),
    "copier": ("printer",), "mfp": ("printer",), "printing": ("printer",),
    "laggy": ("slow",), "sluggish": ("slow",), "crawling": ("slow",),
    "mstsc": ("rdp", "remote"), "rdp": ("remote",),
    "nslookup": ("dns",), "resolve": ("dns",),
    "login": ("sign",), "logon": ("sign",), "signin": ("sign",),
    "email": ("mail",), "emails": ("mail",), "mail": ("email",),
    "o365": ("microsoft",), "m365": ("microsoft",), "handset": ("phone",),
    "mobile": ("phone",), "cell": ("phone",), "lockout": ("locked",), "locked": ("lockout",),
    "hdd": ("disk",), "ssd": ("disk",), "drive": ("disk",), "wan": ("internet",),
}


def terms(text: str) -> list[str]:
    """The distinct, meaningful lower-case words of ``text`` (letters and digits only, so they
    are safe in an FTS5 or tsquery expression), at most ``MAX_TERMS``."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        if len(word) >= MIN_TERM and word not in STOP and not word.isdigit():
            for w in (word, *SYNONYMS.get(word, ())):
                seen.setdefault(w, None)
            if len(seen) >= MAX_TERMS:
                break
    return list(seen)[:MAX_TERMS]


def fts5_query(words: Iterable[str]) -> str:
    """An FTS5 MATCH expression: any of the words (each a quoted string)."""
    return " OR ".join(f'"{w}"' for w in words)


def tsquery(words: Iterable[str]) -> str:
    """A ``to_tsquery`` expression: any of the words."""
    return " | ".join(words)


def covered(words: list[str], document: str) -> int:
    """How many of ``words`` the document holds (compared on their first letters)."""
    have = {w[:PREFIX] for w in _WORD.findall(document.lower())}
    return sum(1 for w in words if w[:PREFIX] in have)


def relevant(words: list[str], document: str) -> bool:
    """A past resolution worth showing: it shares at least two of the problem's words (one
    when the problem has only one)."""
    return covered(words, document) >= min(2, len(words)) > 0


# ── scripts from fix steps ───────────────────────────────────────────────────────────────

_PS = re.compile(
    r"\b(?:Get|Set|New|Remove|Add|Start|Stop|Restart|Test|Enable|Disable|Clear|Invoke|Import|"
    r"Export|Update|Reset|Connect|Disconnect|Resolve|Install|Uninstall|Register|Unregister|"
    r"Move|Rename|Out|Write|Select|Where|ForEach|Search|Unlock|Grant|Revoke|Send|Wait|Measure|"
    r"Format|Find|Show|Use|Restore|Backup|Mount|Dismount|Sync|Suspend|Resume|Block|Unblock|"
    r"Repair|Optimize|Save|Lock|Join|Copy|Convert|ConvertTo|ConvertFrom|Compare)-[A-Z][A-Za-z]+")
_CMD = re.compile(
    r"^(?:ipconfig|nslookup|ping|tracert|netsh|net|sc|gpupdate|gpresult|cmdkey|sfc|dism|chkdsk|"
    r"robocopy|klist|dsregcmd|w32tm|wevtutil|certutil|reg|shutdown|taskkill|tasklist|route|"
    r"arp|netstat|bcdedit|manage-bde|wmic|msiexec|cscript|wusa|icacls|takeown|nltest|repadmin|"
    r"dcdiag|whoami|echo|set|del|copy|move|rmdir|mkdir)(?:\.exe)?\b", re.IGNORECASE)
_SH = re.compile(
    r"^(?:sudo|systemctl|journalctl|apt|apt-get|yum|dnf|grep|cat|tail|ls|cp|mv|rm|chmod|chown|"
    r"curl|wget|dig|ip|ifconfig|ss|service|kill|ps|df|du|mount|umount|tar|ssh|scp|openssl|"
    r"nmcli|resolvectl|crontab|docker|kubectl|export)\b")
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_RUN = re.compile(r"^\s*(?:run|type|execute|enter|in (?:an? )?(?:elevated )?(?:powershell|cmd|"
                  r"command prompt|terminal|shell)[^:]*)\s*:?\s*", re.IGNORECASE)
_PARAM = re.compile(r"<([A-Za-z][A-Za-z0-9 _-]{0,40})>|\{\{\s*([A-Za-z][A-Za-z0-9_]{0,40})\s*\}\}")
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
_HOST_ARG = re.compile(r"(?<![\w-])(-(?:ComputerName|Identity|UserPrincipalName|Mailbox|Name|Server|"
                       r"PrinterName|User))\s+(\"[^\"]+\"|'[^']+'|[^\s;|]+)", re.IGNORECASE)


def language_of(line: str) -> str | None:
    """``powershell``, ``cmd`` or ``bash`` when the line reads as a command, else None."""
    line = line.strip()
    if not line:
        return None
    if _PS.search(line) or line.startswith("$") and "=" in line:
        return "powershell"
    if _CMD.match(line):
        return "cmd"
    if _SH.match(line):
        return "bash"
    return None


def command_lines(steps: Iterable[str]) -> list[str]:
    """The commands among a fix's steps: `code spans`, or whole steps that read as commands
    (after an optional "Run:")."""
    out: list[str] = []
    for step in steps:
        spans = [s.strip() for s in _CODE_SPAN.findall(step) if language_of(s)]
        if spans:
            out += spans
            continue
        bare = _RUN.sub("", step.strip(), count=1)
        if language_of(bare):
            out.append(bare)
    return out


def script_language(lines: list[str]) -> str:
    """The language most of the lines are in (PowerShell wins a tie: it runs cmd too)."""
    counts: dict[str, int] = {}
    for line in lines:
        lang = language_of(line)
        if lang:
            counts[lang] = counts.get(lang, 0) + 1
    if not counts:
        return "text"
    return max(sorted(counts), key=lambda k: (counts[k], k == "powershell"))


@dataclass(frozen=True)
class Parameter:
    name: str
    description: str = ""
    default: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "description": self.description, "default": self.default}


def _param_name(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9]+", "_", text.strip()).strip("_").lower()
    return name or "value"


def parameterise(body: str) -> tuple[str, list[Parameter]]:
    """Placeholders become ``{{name}}``: ``<user>``/``{{user}}`` as written, e-mail addresses
    (``{{user_email}}``) and the value after -Identity/-ComputerName-like switches."""
    params: dict[str, Parameter] = {}

    def placeholder(m: re.Match[str]) -> str:
        name = _param_name(m.group(1) or m.group(2))
        params.setdefault(name, Parameter(name, f"{(m.group(1) or m.group(2)).strip()}"))
        return "{{" + name + "}}"

    body = _PARAM.sub(placeholder, body)

    def email(m: re.Match[str]) -> str:
        params.setdefault("user_email", Parameter("user_email", "the user's e-mail address",
                                                  m.group(0)))
        return "{{user_email}}"

    body = _EMAIL.sub(email, body)

    def switch(m: re.Match[str]) -> str:
        if "{{" in m.group(2):
            return m.group(0)
        name = _param_name(m.group(1).lstrip("-"))
        params.setdefault(name, Parameter(name, f"value of {m.group(1)}", m.group(2).strip("\"'")))
        return f'{m.group(1)} "{{{{{name}}}}}"'

    body = _HOST_ARG.sub(switch, body)
    return body, list(params.values())


_FACT_EMAIL = _EMAIL
_FACT_HOST = re.compile(r"\b(?:host|computer|device|pc|laptop|server|machine)\s*(?:name)?\s*"
                        r"(?:is|:|=)?\s*([A-Za-z0-9][A-Za-z0-9-]{1,62})\b", re.IGNORECASE)


def fill(body: str, parameters: list[dict[str, str]], facts: Iterable[str]) -> tuple[str, list[str]]:
    """The body with parameters filled from the session's facts where one says the value
    (an e-mail address, a computer name), else the stored default; returns the names left
    for the technician to fill."""
    facts = list(facts)
    found: dict[str, str] = {}
    for fact in facts:
        if "user_email" not in found and (m := _FACT_EMAIL.search(fact)):
            found["user_email"] = m.group(0)
        if "computername" not in found and (m := _FACT_HOST.search(fact)):
            found["computername"] = m.group(1)
    left: list[str] = []
    for p in parameters:
        name = str(p.get("name") or "")
        if not name:
            continue
        value = found.get(name) or str(p.get("default") or "")
        if value:
            body = body.replace("{{" + name + "}}", value)
        else:
            left.append(name)
    return body, left


def script_from_steps(title: str, steps: list[str]) -> dict[str, Any] | None:
    """A draft script from a worked fix's steps, or None when no step is a command."""
    lines = command_lines(steps)
    if not lines:
        return None
    language = script_language(lines)
    comment = "REM" if language == "cmd" else "#"
    body = "\n".join([f"{comment} {title}"[:200], *lines])
    body, params = parameterise(body)
    return {"title": title[:255], "description": "From the steps of a fix that worked.",
            "language": language, "body": body, "parameters": [p.as_dict() for p in params]}
