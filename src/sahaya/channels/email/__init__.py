"""Email: outbound through SMTP (inbound over IMAP arrives in a later issue)."""
