"""``python -m vram QUERY``."""

from .cli import main

raise SystemExit(main())
