"""Top-level windows that build widgets and wire them to controllers."""
