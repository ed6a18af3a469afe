"""Logs never carry request bodies or secrets, at any level.

Libraries log bodies: Bolt's signature check logs a refused request's body at INFO, Bolt's
"Unhandled request" warning prints the payload, the Slack SDK and the Anthropic SDK log
request bodies at DEBUG. Handler-level filters would miss handlers added later (pytest's,
an operator's), so every record is cleaned where it is made: a record factory. A library
record that may hold a body keeps its first words and loses the rest; every record's text
goes through the redaction policy.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from bot.redact import redact

# Loggers of libraries that print bodies. Bolt's app loggers are named after the App
# (bootstrap names it "flowpilot.bolt").
BODY_LOGGERS = ("slack_bolt", "slack_sdk", "slack", "anthropic", "httpx", "httpcore",
                "urllib3", "flowpilot.bolt")
_BODY_HINT = re.compile(r"body|payload|json_data|request options|[{\[]", re.IGNORECASE)
_CUT = re.compile(r"[({\[:]")
WITHHELD = "[detail withheld: may carry a request body]"
_INSTALLED = "_flowpilot_logsafe"


def scrub_message(name: str, message: str) -> str:
    if name.startswith(BODY_LOGGERS) and _BODY_HINT.search(message):
        head = _CUT.split(message.splitlines()[0] if message else "", maxsplit=1)[0]
        return f"{head.strip()[:120]} {WITHHELD}"
    return redact(message).text


def install() -> None:
    """Wrap the record factory once per process (idempotent)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, _INSTALLED, False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep the template, drop the arguments
            message = str(record.msg)
        record.msg, record.args = scrub_message(record.name, message), None
        return record

    setattr(factory, _INSTALLED, True)
    logging.setLogRecordFactory(factory)
