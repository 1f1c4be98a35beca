"""ERPNext (Frappe) as a source of customers: a REST client, the Contact → customer mapping,
and a local fake server so tests and the demo need no real ERPNext."""
