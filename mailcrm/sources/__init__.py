"""Sources: receive mail (SMTP, IMAP, mbox/Maildir files, one-off IMAP imports), then spool it."""
