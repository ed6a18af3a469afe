"""FlowPilot: an AI troubleshooting co-pilot that lives in Slack threads."""

__version__ = "0.1.0"
