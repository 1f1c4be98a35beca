"""osTicket-compatible ticket intake (`POST /api/tickets.json`), so existing scripts work."""
