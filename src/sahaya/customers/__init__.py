"""Customer registry: registered customers (E.164 phone, home sub-district), their channel
identities and verification, and bulk imports from CSV and ERPNext."""

from sahaya.customers import domain, services
from sahaya.customers.importing import RawRecord
from sahaya.customers.phones import InvalidPhone, e164_or_none, to_e164
from sahaya.customers.repository import CustomerRepository
from sahaya.customers.tables import CustomerIdentityRow, CustomerRow

__all__ = [
    "CustomerIdentityRow",
    "CustomerRepository",
    "CustomerRow",
    "InvalidPhone",
    "RawRecord",
    "domain",
    "e164_or_none",
    "services",
    "to_e164",
]
