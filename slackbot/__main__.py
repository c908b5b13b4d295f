"""``python -m vram.slackbot``: the same as ``vram-slack``."""

import sys

from .server import main

sys.exit(main())
