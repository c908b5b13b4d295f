"""``python -m vram QUERY``."""

from vram.cli import main

raise SystemExit(main())
