"""``python -m kneeseg_app``: the same as the ``kneeseg`` command."""

import sys

from kneeseg_app.cli import main

if __name__ == "__main__":
    sys.exit(main())
