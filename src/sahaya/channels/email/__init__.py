"""Email: outbound through an SMTP relay (`smtp`); inbound by polling IMAP mailboxes
(`imap`, a worker task) and by an SMTP listener (`listener`, in the worker when
`SAHAYA_SMTP_LISTEN_PORT` is set), both handing raw mail to `handoff`."""

# Channel-account providers of the email channel: a polled mailbox, and an address that
# receives mail only through the SMTP listener.
IMAP_PROVIDER = "imap"
LISTENER_PROVIDER = "smtp"
