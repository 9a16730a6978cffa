"""Pure domain rules over parsed facts and a snapshot of state (no I/O)."""
