"""The admin's PSA connection form (``fp_settings_modal``). Secrets are never put back into
the form: an admin who reopens it types them again."""

from __future__ import annotations

from typing import Any

from bot import ids

from . import blocks as bk
from .modals import _modal, _option, _text_input

FLAGS = (("resolution", "Resolution"), ("internal", "Internal analysis"),
         ("discussion", "Discussion (the client sees it)"))


def psa_modal(channel_id: str, current: str) -> dict[str, Any]:
    flag = {
        "type": "input", "block_id": ids.PSA_NOTE_FLAG, "optional": True,
        "label": bk.plain_text("Resolution notes go in"),
        "element": {"type": "static_select", "action_id": ids.PSA_NOTE_FLAG,
                    "options": [_option(v, label) for v, label in FLAGS],
                    "initial_option": _option(*FLAGS[0])},
    }
    blocks = [
        bk.context([f"Now: {current}. Keys are checked with one API call, then stored "
                    "encrypted; they are never shown again."]),
        _text_input(ids.PSA_SITE, "ConnectWise site", placeholder="na.myconnectwise.net",
                    max_length=200),
        _text_input(ids.PSA_COMPANY, "Company id", max_length=100),
        _text_input(ids.PSA_PUBLIC_KEY, "Public key", max_length=100),
        _text_input(ids.PSA_PRIVATE_KEY, "Private key", max_length=100),
        _text_input(ids.PSA_CLIENT_ID, "Client id", max_length=100),
        flag,
    ]
    return _modal(ids.SETTINGS_MODAL, "Connect ConnectWise", "Connect", blocks,
                  f"psa|{channel_id}")
