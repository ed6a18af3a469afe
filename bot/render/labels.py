"""The words and emoji people see for statuses, domains, tiers, risks and decisions."""

from __future__ import annotations

from .safe import USER_ID, mention, neutralize, one_line

STATUS_LABELS: dict[str, str] = {
    "active": "🟢 active",
    "paused": "⏸️ parked",
    "requesting_escalation": "🟠 escalation requested",
    "escalated": "🔺 escalated",
    "resolved": "✅ resolved",
    "abandoned": "⚪ abandoned",
}

DOMAIN_LABELS: dict[str, str] = {
    "active_directory": "Active Directory",
    "networking": "Networking",
    "m365": "Microsoft 365",
    "email": "Email",
    "hardware": "Hardware",
    "printing": "Printing",
    "security": "Security",
    "endpoint": "Endpoint",
    "server": "Server",
    "cloud": "Cloud",
    "backup": "Backup",
    "voip": "VoIP",
    "other": "Other",
}

RISK_LABELS: dict[str, str] = {"low": "🟢 low risk", "medium": "🟡 medium risk", "high": "🔴 high risk"}
URGENCY_LABELS: dict[str, str] = {
    "low": "🔵 Low",
    "normal": "🟢 Normal",
    "high": "🟠 High",
    "critical": "🔴 Critical",
}


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, neutralize(status, max_len=40))


def domain_label(domain: str | None) -> str:
    return DOMAIN_LABELS.get(domain or "other", neutralize(domain or "Other", max_len=40))


def tier_for(confidence: float) -> str:
    # Same rule as bot.domain.confidence; rendering keeps no import of the domain.
    if confidence > 0.8:
        return "guided"
    return "exploring" if confidence >= 0.4 else "discovery"


def percent(value: float | None) -> str:
    if value is None:
        return ""
    return f"{round(max(0.0, min(1.0, float(value))) * 100)}%"


def tier_text(tier: str, confidence: float) -> str:
    """E.g. ``guided 92%``."""
    return f"{neutralize(tier, max_len=20) or tier_for(confidence)} {percent(confidence)}"


def risk_label(risk: str) -> str:
    return RISK_LABELS.get(risk, neutralize(risk, max_len=20))


def urgency_label(urgency: str) -> str:
    return URGENCY_LABELS.get(urgency, neutralize(urgency, max_len=20))


def who(user: str | None) -> str:
    """A mention for a Slack user id; a display name is shown as harmless text."""
    if not user:
        return ""
    if USER_ID.match(user):
        return mention(user)
    return neutralize(one_line(user), max_len=80)


def by_line(label: str, decided_by: str | None, at_text: str) -> str:
    """``✅ Worked — <@U123>, 10:42`` (who and when only when known)."""
    tail = ", ".join(p for p in (who(decided_by), neutralize(at_text, max_len=40)) if p)
    return f"{label} — {tail}" if tail else label
