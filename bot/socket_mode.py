"""Socket Mode through the same input boundary as HTTP: each envelope's payload is checked
and cleaned (bot/boundary.py) before Bolt sees it. A refused payload is acked (Slack would
only redeliver the same junk) and logged in one line."""

from __future__ import annotations

import logging
from time import time

from slack_bolt import App, BoltRequest
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.socket_mode.internals import build_headers, send_response
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot import boundary
from bot.server import redact_body
from bot.services.container import Services

log = logging.getLogger(__name__)


def dispatch_envelope(app: App, req: SocketModeRequest,
                      svc: Services | None = None) -> tuple[int, object]:
    """(status, Bolt response or None) for one envelope, after the boundary's checks."""
    checked = boundary.check_payload(req.payload)
    if isinstance(checked, boundary.Refusal):
        log.info("refused a Socket Mode envelope (%d): %s", checked.status, checked.reason)
        return checked.status, None
    if checked.cleaned:
        log.warning("cleaned %d characters (NUL, lone surrogates) from a %s", checked.cleaned,
                    boundary.describe(checked.body))
    if svc is not None:
        redact_body(svc, checked.body)
    resp = app.dispatch(BoltRequest(mode="socket_mode", body=checked.body,
                                    headers=build_headers(req)))
    return resp.status, resp


class CheckedSocketModeHandler(SocketModeHandler):
    services: Services | None = None  # set by the caller: workspace redaction patterns

    def handle(self, client: BaseSocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        start = time()
        _, resp = dispatch_envelope(self.app, req, self.services)
        if resp is None:
            client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        send_response(client, req, resp, start)  # type: ignore[arg-type]
