"""`python -m cola ...`: exactly what `python train.py ...` runs (`cola.cli.main`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
