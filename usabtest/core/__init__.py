"""Cross-cutting records: the audit trail and outgoing mail."""
