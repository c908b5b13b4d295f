"""vram.ipymagic: the %vram IPython/Jupyter frontend. Not built yet: see the Jupyter issue."""
