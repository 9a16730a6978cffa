"""Ingest: claim spooled mail -> parse (in parser processes) -> app.apply (one transaction) -> ack."""
