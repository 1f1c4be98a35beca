"""Telegram Bot API: webhook updates, outbound messages and files, and a local fake of the
Bot API."""
