"""Local Slack stand-ins: a fake Web API server and signed-request builders (tests, `flowpilot try`)."""
