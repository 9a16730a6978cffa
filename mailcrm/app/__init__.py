"""Use cases: one function per use case, each one transaction; the only layer that commits."""
