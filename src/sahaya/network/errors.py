"""Errors of the franchise network context."""

from __future__ import annotations

from sahaya.errors import Conflict, Invalid, NotFound


class UnknownNode(NotFound):
    slug = "unknown-node"
    title = "Unknown node"


class NodeOutOfScope(NotFound):
    """Reported as not found: staff must not learn what lies outside their subtree."""

    slug = "unknown-node"
    title = "Unknown node"


class UnknownService(Invalid):
    slug = "unknown-service"
    title = "Unknown service"


class UnknownExecutive(NotFound):
    slug = "unknown-executive"
    title = "Unknown executive"


class UnknownFranchisee(NotFound):
    slug = "unknown-franchisee"
    title = "Unknown franchisee"


class DuplicateExecutive(Conflict):
    slug = "duplicate-executive"
    title = "Executive already exists"


class InvalidNetworkChange(Invalid):
    slug = "invalid-network-change"
    title = "Invalid change to the network"
