"""Importers: mail history (mbox, Maildir, IMAP) through the spool and worker; contact sheets; export."""
