"""``python -m kneeseg_app``: the same as the ``kneeseg`` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
