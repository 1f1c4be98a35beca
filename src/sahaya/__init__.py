"""Sahaya: omnichannel customer support and contact centre for franchise networks."""

__version__ = "0.1.0"
