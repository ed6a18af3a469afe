"""HTTP mode: a WSGI app (``POST /slack/events``, ``GET /healthz``, ``GET /metrics``) served by
waitress, a production WSGI server (Bolt's own ``app.start()`` is for development only)."""

from __future__ import annotations

import contextvars
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from slack_bolt import App, BoltRequest
from slack_bolt.request.internals import build_context
from sqlalchemy import text

from bot import boundary
from bot.bootstrap import FlowPilot
from bot.clock import utcnow
from bot.redact import redact
from bot.services.container import Services
from bot.services.sessions import workspace_patterns

log = logging.getLogger(__name__)
StartResponse = Callable[..., Any]


def bolt_request(raw: str, body: dict[str, Any], headers: dict[str, str | Sequence[str]],
                 query: str) -> BoltRequest:
    """A Bolt request around a body the boundary already parsed and checked: Bolt does not
    parse it again (it would read any form holding the substring "payload" as an
    interactivity payload). ``raw`` stays for Bolt's own signature check, where enabled."""
    req = BoltRequest(body="", query=query, headers=headers)
    req.raw_body = raw
    req.body = body
    req.context = build_context(req.context, body)
    return req


def redact_body(svc: Services, body: dict[str, Any]) -> int:
    """The redaction policy (built-in and the workspace's own patterns) on a body's text."""
    patterns = workspace_patterns(svc, boundary.team_of(body))

    def redactor(text: str) -> tuple[str, int]:
        result = redact(text, patterns)
        return result.text, result.count

    return boundary.redact_inbound(body, redactor)


class WsgiApp:
    def __init__(self, fp: FlowPilot, *, path: str = "/slack/events") -> None:
        self.fp = fp
        self.app: App = fp.app
        self.path = path
        settings = getattr(fp, "settings", None)
        secret = settings.slack_signing_secret if settings is not None else None
        # None: the app verifies signatures itself (the ack benchmark's bare Bolt floor).
        self.secret: bytes | None = secret.get_secret_value().encode() if secret else None

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "/")
        if path == "/healthz" and method == "GET":
            return self._healthz(start_response)
        if path == "/metrics" and method == "GET":
            body = generate_latest(self.fp.services.metrics.registry)
            start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
            return [body]
        services = getattr(self.fp, "services", None)  # None: the benchmark's bare floor
        flow = services.oauth_flow if services is not None else None
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
            return _refuse(start_response, boundary.Refusal(400, "Content-Length is not a number"))
        if length > boundary.MAX_BODY:
            return _refuse(start_response, boundary.Refusal(413, f"body of {length} bytes is too large"))
        raw = environ["wsgi.input"].read(length) if length > 0 else b""
        headers: dict[str, str | Sequence[str]] = {}
        plain: dict[str, str] = {}
        for key, value in environ.items():
            if key.startswith("HTTP_"):
                name = key[5:].replace("_", "-").lower()
                headers[name], plain[name] = [value], str(value)
        ctype = str(environ.get("CONTENT_TYPE") or "")
        if ctype:
            headers["content-type"] = [ctype]
        if self.secret is not None:
            refused = boundary.verify(self.secret, raw, plain, utcnow().timestamp())
            if refused is not None:
                return _refuse(start_response, refused)
        parsed = boundary.parse_http(raw, ctype)
        if isinstance(parsed, boundary.Refusal):
            return _refuse(start_response, parsed)
        if parsed.cleaned:
            log.warning("cleaned %d characters (NUL, lone surrogates) from a %s", parsed.cleaned,
                        boundary.describe(parsed.body))
        if services is not None:
            redact_body(services, parsed.body)
        req = bolt_request(raw.decode("utf-8"), parsed.body, headers,
                           environ.get("QUERY_STRING", ""))
        # Each request in a fresh context: the workspace it sets stays with its own work.
        resp = contextvars.copy_context().run(self.app.dispatch, req)
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


def _refuse(start_response: StartResponse, refusal: boundary.Refusal) -> list[bytes]:
    """One line in the log (the reason, never the body) and a short JSON answer."""
    log.info("refused a request (%d): %s", refusal.status, refusal.reason)
    return _reply(start_response, refusal.status, {"error": refusal.reason})


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
