"""What a person asked: the closed vocabularies (enums), the Request value, its canonical text.

The lowest layer above the leaves (errors, units, formula): nothing here reads a catalog, a file
or the network; a Request checks only what is in memory.
"""

from vram.request.request import RANGES, Request

__all__ = ["RANGES", "Request"]
