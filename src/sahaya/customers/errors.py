"""Errors of the customer registry."""

from __future__ import annotations

from sahaya.errors import Conflict, Invalid, NotFound


class UnknownCustomer(NotFound):
    slug = "unknown-customer"
    title = "Unknown customer"


class DuplicatePhone(Conflict):
    slug = "duplicate-phone"
    title = "Phone number already registered"


class DuplicateIdentity(Conflict):
    slug = "duplicate-identity"
    title = "Channel identity already linked"


class InvalidCustomerData(Invalid):
    slug = "invalid-customer"
    title = "Invalid customer data"


class InvalidHomeNode(Invalid):
    slug = "invalid-home-node"
    title = "Home node must be a sub-district you can see"
