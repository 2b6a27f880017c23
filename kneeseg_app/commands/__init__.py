"""One module per ``kneeseg`` sub-command; each defines ``register(subparsers)``."""
