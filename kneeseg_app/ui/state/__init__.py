"""Qt-free (or signal-only) state of the window: what is shown and how."""
