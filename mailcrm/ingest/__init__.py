"""Ingest: sources (SMTP, IMAP, importers) -> spool -> worker pipeline."""
