"""Troubleshooting engines: Claude (``claude``) and the offline flow engine (``offline``)."""
