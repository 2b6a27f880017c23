"""Controllers: decisions and background work for the window, no widgets."""
