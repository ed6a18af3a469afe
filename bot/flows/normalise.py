"""Turn what technicians write into comparable word stems.

Lower-case; drop log noise (timestamps, GUIDs, long hex, IP and MAC addresses, e-mail
addresses); fold the way people abbreviate and misspell tech words ("pw", "o365", "wi-fi",
"locked out"); drop filler words; strip common English suffixes so "printers", "printing"
and "printer" meet. Pure functions, no state.
"""

from __future__ import annotations

import re

_NOISE = [
    re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"),  # GUID
    re.compile(
        r"\b\d{4}-\d{2}-\d{2}(?:[t ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:z|[+-]\d{2}:?\d{2})?)?"
    ),
    re.compile(r"\b\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:\s*[ap]m)?\b"),  # clock time
    # Dates; dotted ones only with a 4-digit year, so SMTP codes ("5.7.708") survive.
    re.compile(r"\b\d{1,2}[/-]\d{1,2}[/-]\d{2,4}\b|\b\d{1,2}\.\d{1,2}\.\d{4}\b"),
    re.compile(r"\b(?:[0-9a-f]{2}[:-]){5}[0-9a-f]{2}\b"),  # MAC
    re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?:[:/]\d+)?\b"),  # IPv4 (with port or prefix)
    re.compile(r"\b(?:0x)?[0-9a-f]{16,}\b"),  # long hex (hashes, handles)
    # E-mail address; bounded parts (RFC 5321 limits) so a long run of letters is linear.
    re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})+"),
]

# Multi-word spellings folded into one token, applied to the lower-cased text.
_PHRASES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), r)
    for p, r in [
        (r"\bwi[\s-]?fi\b|\bwlan\b", " wifi "),
        (r"\be-mails?\b", " email "),
        (r"\bone[\s-]?drive\b", " onedrive "),
        (r"\bshare[\s-]?point\b", " sharepoint "),
        (r"\b(?:office|microsoft|ms|o)[\s-]?365\b", " m365 "),
        (r"\b(?:multi|two|2)[\s-]?(?:factor|step)\b", " mfa "),
        (r"\bremote[\s-]?desktop\b", " rdp "),
        (r"\block(?:ed|s|ing)?[\s-]*out\b", " lockout "),
        (r"\bcan'?t\b|\bcannot\b|\bcan\s+not\b|\bunable\s+to\b|\bcnt\b", " cant "),
        (r"\bwon'?t\b|\bwill\s+not\b", " wont "),
        (r"\b(\w+)n['’]t\b", r" \1nt "),
        (r"\bhard[\s-]?(?:drive|disk)\b", " disk "),
        (r"\b(?:sign|log)(?:ed|ged|ing|ging)?[\s-]?(?:in|on)\b", " signin "),
        (r"\bbounce[\s-]?backs?\b", " bounce "),
        (
            r"\bfile[\s-]?shares?\b|\bshared\s+(?:drive|folder)s?\b|\bnetwork\s+(?:drive|share)s?\b",
            " fileshare ",
        ),
        (r"\bms[\s-]?teams\b|\bmicrosoft\s+teams\b", " teams "),
        (r"\bblue\s+screens?\b", " bsod "),
        (r"\baccess\s+is\s+denied\b", " access denied "),
        # MSP shorthand: a drive letter is a mapped drive, except C: (the local disk).
        (r"\bc:?\s*drive\b|\bc:(?=\s|$)", " cdrive "),
        (r"\b[d-z]:?\s+drive\b|\b[d-z]:(?=\s|$)", " mapped drive "),
        (r"\b(?:ms\s+|microsoft\s+)?(?:authy|duo|authenticator|msauth)\b", " authenticator "),
        (r"\bnumber\s+matching\b", " mfa "),
        # "Microsoft 365 Apps" is the Office suite, not the subscription.
        (r"\bm365\s+apps\b", " office apps "),
        (r"\bimpossible\s+travel\b|\brisky\s+sign[\s-]?ins?\b", " compromised "),
        (r"\b(\w+)['’]d\b", r" \1 "),  # "vpn'd", "rdp'd"
    ]
]

# Single tokens: abbreviations, slang and common misspellings -> the word we index.
SYNONYMS: dict[str, str] = {
    **dict.fromkeys(
        ["pw", "pwd", "pwds", "pws", "passwd", "pword", "passw", "passwrd", "pswd"], "password"
    ),
    **dict.fromkeys(["acct", "accnt", "acc"], "account"),
    **dict.fromkeys(["users", "usr", "usrs"], "user"),
    **dict.fromkeys(["2fa", "tfa", "mfa", "otp", "multifactor", "2sv"], "mfa"),
    **dict.fromkeys(["ol", "olk", "outlk"], "outlook"),
    **dict.fromkeys(["o365", "m365", "office365", "ms365"], "m365"),
    **dict.fromkeys(["od", "odb", "odfb"], "onedrive"),
    **dict.fromkeys(["sp", "spo"], "sharepoint"),
    **dict.fromkeys(["msteams"], "teams"),
    **dict.fromkeys(
        [
            "laptop",
            "laptops",
            "computer",
            "computers",
            "desktop",
            "desktops",
            "workstation",
            "workstations",
            "notebook",
            "pcs",
        ],
        "pc",
    ),
    **dict.fromkeys(["prnt", "prntr", "prn", "mfp", "mfd", "copier", "printers"], "printer"),
    **dict.fromkeys(["wireless", "wi", "ssid"], "wifi"),
    **dict.fromkeys(["inet", "interweb", "interwebs"], "internet"),
    **dict.fromkeys(["mstsc", "rds"], "rdp"),
    **dict.fromkeys(["hdd", "ssd", "drivespace", "diskspace"], "disk"),
    **dict.fromkeys(["mem", "ram"], "memory"),
    **dict.fromkeys(["repo", "repos"], "repository"),
    **dict.fromkeys(["locked", "lockd", "lockouts", "lockedout"], "lockout"),
    **dict.fromkeys(["sync", "syncing", "synching", "synch", "synced", "syncd", "syncs"], "sync"),
    **dict.fromkeys(["bounced", "bouncing", "bounces", "bouncebacks", "bounceback"], "bounce"),
    **dict.fromkeys(["phishy", "phished", "phishing", "phish"], "phish"),
    **dict.fromkeys(["dodgy", "sketchy", "fishy", "shady", "sus", "suspect"], "suspicious"),
    **dict.fromkeys(["pwned", "breached"], "compromised"),
    **dict.fromkeys(["mail", "mails", "emails", "e-mail"], "email"),
    **dict.fromkeys(["expiry", "expiration", "exp", "expird", "expried"], "expired"),
    **dict.fromkeys(
        ["frozen", "freezes", "freezing", "hangs", "hanging", "hung", "unresponsive"], "freeze"
    ),
    **dict.fromkeys(
        ["sluggish", "laggy", "lagging", "lag", "slowness", "sloooow", "slooow", "sloow", "slowly"],
        "slow",
    ),
    **dict.fromkeys(["auth", "authn"], "authentication"),
    **dict.fromkeys(["msg", "msgs"], "message"),
    **dict.fromkeys(["pwrd"], "password"),
    **dict.fromkeys(["forgotten", "forgets", "forgetting", "forget"], "forgot"),
    **dict.fromkeys(["creds", "cred"], "credentials"),
    **dict.fromkeys(["pa", "pas"], "assistant"),
    # A new starter or joiner is a new user (and never the generic "start").
    **dict.fromkeys(["starter", "starters", "joiner", "joiners"], "user"),  # a personal assistant (delegate access)
    **dict.fromkeys(["lappy", "lappie", "comp", "puter"], "pc"),
    **dict.fromkeys(["certs", "cert"], "certificate"),
    **dict.fromkeys(["nxdomain", "servfail"], "dns"),
    **dict.fromkeys(["unlicenced", "unlicensed"], "unlicensed"),
    **dict.fromkeys(["licence", "licences", "licenses", "licensing", "licencing"], "license"),
    **dict.fromkeys(["wu"], "update"),
    **dict.fromkeys(["rebooting", "restarting"], "reboot"),
    # Negations all count as one word: "cant print" is a problem, "print the agenda" is not.
    **dict.fromkeys(
        [
            "cant",
            "wont",
            "dont",
            "doesnt",
            "isnt",
            "arent",
            "didnt",
            "wasnt",
            "werent",
            "havent",
            "hasnt",
            "couldnt",
            "wouldnt",
            "shouldnt",
            "cannot",
            "unable",
            "no",
            "not",
            "never",
            "nt",
        ],
        "not",
    ),
}

_STOP_TEXT = """
a an the is are was were be been being am i im ive id my me mine we our us you your he she
him her his they them their it its this that these those to of in on at for from with without
by and or but so if as than then nor has have had do does did will would can could
should may might must get gets getting got just still also any some all there here what
when where why how who whom which please pls plz thanks thank thx ty hi hello hey ok okay
ppl people issue issues problem problems help need needs trying try tried
anyone someone something like want wants same one very really much more most now today
since via per re fw fwd go goes going went up hello good morning afternoon ticket client customer keep keeps
"""
STOPWORDS = frozenset(_STOP_TEXT.split())

# Names that must not lose their "s": "teams" (the app) is not "team".
_KEEP = frozenset({"teams", "windows", "always"})
_TOKEN = re.compile(r"\d+(?:\.\d+)+|[a-z0-9]+")
_VOWELS_AND_DOUBLES_KEPT = set("aeiouylsz")


def stem(word: str) -> str:
    """A light suffix stripper: printers/printing/printer -> print, updated -> updat."""
    if len(word) <= 3 or not word.isalpha() or word in _KEEP:
        return word
    w = word
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")) and len(w) > 4:
        w = w[:-1]
    for suffix, keep in (("ing", 3), ("ed", 3), ("er", 4)):
        if w.endswith(suffix) and len(w) - len(suffix) >= keep:
            w = w[: -len(suffix)]
            if len(w) > 3 and w[-1] == w[-2] and w[-1] not in _VOWELS_AND_DOUBLES_KEPT:
                w = w[:-1]
            break
    if w.endswith("e") and len(w) > 4:
        w = w[:-1]
    return w


def clean(text: str) -> str:
    """Lower-case, drop log noise and fold multi-word spellings."""
    out = text.lower().replace("’", "'")
    for pattern in _NOISE:
        out = pattern.sub(" ", out)
    for pattern, replacement in _PHRASES:
        out = pattern.sub(replacement, out)
    return out


def words(text: str) -> list[str]:
    """The meaningful words of ``text`` after cleaning and synonyms, before stemming."""
    out = []
    for token in _TOKEN.findall(clean(text)):
        token = SYNONYMS.get(token, token)
        if token not in STOPWORDS and len(token) > 1:
            out.append(token)
    return out


def stems(text: str) -> list[str]:
    return [stem(w) for w in words(text)]
