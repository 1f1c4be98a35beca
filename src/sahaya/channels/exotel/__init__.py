"""Exotel (voice): the Passthru/Connect/status-callback wire formats and, in `sandbox`, a
local stand-in for Exotel's flow engine that plays calls against Sahaya's webhooks."""
