"""What to run: validated, immutable descriptions of the configured apps (pure, no I/O)."""
