"""The morning digest: collect (read-only) -> rules (pure) -> render (pure) -> send <- schedule."""
