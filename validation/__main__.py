"""``python -m vram.validation``: measure the matrix and write docs/accuracy.md."""

import sys

from .accuracy import main

sys.exit(main())
