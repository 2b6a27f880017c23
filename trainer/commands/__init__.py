"""``kneeseg-train`` sub-commands, one module each with ``register(sub)``."""
