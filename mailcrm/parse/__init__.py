"""Pure parsing: raw bytes (plus explicit arguments) -> frozen facts. No I/O, no clock, no config."""
