"""Client organisations' pages: their client users, their studies and reports (a web-layer page)."""
