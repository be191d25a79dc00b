"""Participants' rights: their page, erasure, withdrawal of consent and the export of their data."""
