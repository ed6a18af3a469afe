"""HTTP mode: a WSGI app (``POST /slack/events``, ``GET /healthz``, ``GET /metrics``) served by
waitress, a production WSGI server (Bolt's own ``app.start()`` is for development only)."""

from __future__ import annotations

import contextvars
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import parse_qsl

from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from slack_bolt import App, BoltRequest
from slack_bolt.request.internals import build_context
from sqlalchemy import text

from bot.bootstrap import FlowPilot

log = logging.getLogger(__name__)
MAX_BODY = 2 * 1024 * 1024
StartResponse = Callable[..., Any]


def bolt_request(raw: str, headers: dict[str, str | Sequence[str]], query: str) -> BoltRequest:
    req = BoltRequest(body=raw, query=query, headers=headers)
    # Bolt parses any form body containing the substring "payload" as an interactivity
    # payload, so a slash command whose text (or channel) says "payload" arrives empty.
    # Re-parse such bodies as the plain form they are; the signature still covers raw.
    if not req.body and raw and not raw.startswith("{"):
        form = dict(parse_qsl(raw, keep_blank_values=True))
        if "payload" not in form and form:
            req.body = form
            req.context = build_context(req.context, form)
    return req


class WsgiApp:
    def __init__(self, fp: FlowPilot, *, path: str = "/slack/events") -> None:
        self.fp = fp
        self.app: App = fp.app
        self.path = path

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "/")
        if path == "/healthz" and method == "GET":
            return self._healthz(start_response)
        if path == "/metrics" and method == "GET":
            body = generate_latest(self.fp.services.metrics.registry)
            start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
            return [body]
        flow = self.fp.services.extras.get("oauth_flow")
        if flow is not None and method == "GET" and path in (
            flow.install_path, flow.redirect_uri_path
        ):
            return self._oauth(flow, path, environ, start_response)
        if path != self.path:
            return _reply(start_response, 404, {"error": "not found"})
        if method != "POST":
            return _reply(start_response, 405, {"error": "method not allowed"})
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY:
            return _reply(start_response, 413, {"error": "request too large"})
        raw = environ["wsgi.input"].read(length).decode("utf-8", errors="replace") if length else ""
        headers: dict[str, str | Sequence[str]] = {}
        for key, value in environ.items():
            if key.startswith("HTTP_"):
                headers[key[5:].replace("_", "-").lower()] = [value]
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = [environ["CONTENT_TYPE"]]
        # Each request in a fresh context: the workspace it sets stays with its own work.
        resp = contextvars.copy_context().run(
            self.app.dispatch, bolt_request(raw, headers, environ.get("QUERY_STRING", ""))
        )
        status = f"{resp.status} {_REASONS.get(resp.status, 'OK')}"
        out_headers = [(k, v) for k, values in resp.headers.items() for v in values]
        start_response(status, out_headers)
        return [resp.body.encode("utf-8") if isinstance(resp.body, str) else resp.body]

    def _oauth(self, flow: Any, path: str, environ: dict[str, Any],
               start_response: StartResponse) -> Iterable[bytes]:
        """``GET /slack/install`` and ``GET /slack/oauth_redirect`` (``bot.oauth``)."""
        headers: dict[str, str | Sequence[str]] = {
            key[5:].replace("_", "-").lower(): [value]
            for key, value in environ.items() if key.startswith("HTTP_")
        }
        req = BoltRequest(body="", query=environ.get("QUERY_STRING", ""), headers=headers)
        if path == flow.install_path:
            resp = flow.handle_installation(req)
        else:
            resp = flow.handle_callback(req)
        reason = {302: "Found", 401: "Unauthorized"}.get(resp.status) or _REASONS.get(
            resp.status, "OK")
        start_response(f"{resp.status} {reason}",
                       [(k, v) for k, values in resp.headers.items() for v in values])
        return [resp.body.encode("utf-8") if isinstance(resp.body, str) else resp.body]

    def _healthz(self, start_response: StartResponse) -> Iterable[bytes]:
        try:
            with self.fp.db.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:
            return _reply(start_response, 503, {"ok": False, "database": "unreachable"})
        return _reply(start_response, 200, {"ok": True})


_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 500: "Error"}


def _reply(start_response: StartResponse, status: int, body: dict[str, Any]) -> list[bytes]:
    reason = {405: "Method Not Allowed", 413: "Payload Too Large", 503: "Service Unavailable"}
    start_response(f"{status} {_REASONS.get(status) or reason.get(status, 'OK')}",
                   [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]


def serve(fp: FlowPilot, host: str, port: int, threads: int = 32) -> None:
    from waitress import serve as waitress_serve

    log.info("FlowPilot listening on http://%s:%s/slack/events", host, port)
    waitress_serve(WsgiApp(fp), host=host, port=port, threads=threads, ident="flowpilot",
                   channel_timeout=30, connection_limit=1000)
