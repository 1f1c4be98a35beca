"""Demo data: Kerala's real districts and taluks, franchisees, executives, users, customers."""
