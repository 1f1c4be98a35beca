"""Errors of the access context."""

from __future__ import annotations

from sahaya.errors import Conflict, Forbidden, Invalid, Unauthenticated


class BadCredentials(Unauthenticated):
    slug = "bad-credentials"
    title = "Wrong username or password"


class BadToken(Unauthenticated):
    slug = "bad-token"
    title = "Missing, unknown, expired or revoked token"


class NotAllowed(Forbidden):
    slug = "not-allowed"
    title = "Not allowed"


class DuplicateUser(Conflict):
    slug = "duplicate-user"
    title = "Username taken"


class InvalidUser(Invalid):
    slug = "invalid-user"
    title = "Invalid user"
