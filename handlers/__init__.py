"""Thin Slack listeners: ack, parse, one service call, render."""
