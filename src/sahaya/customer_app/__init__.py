"""The customer app: sign-in by SMS code, one's own tickets, messages, inbox and a live
stream of replies — everything scoped to the one customer of the token."""
