"""Fakes at the wire: local HTTP servers the real SDKs talk to."""

from .anthropic_server import FakeAnthropic, RecordedRequest, request_problem

__all__ = ["FakeAnthropic", "RecordedRequest", "request_problem"]
