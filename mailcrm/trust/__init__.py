"""Sender authentication: DKIM, SPF, DMARC alignment and ARC verdicts (does DNS I/O; not in parse/)."""
