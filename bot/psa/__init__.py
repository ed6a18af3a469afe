"""Talking to a workspace's PSA: our own ConnectWise Manage client and a signed webhook
target, behind one small interface (``bot.psa.base.PsaTarget``)."""
