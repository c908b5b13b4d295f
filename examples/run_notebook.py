"""Run examples/vram.ipynb in a real kernel and save it with its outputs (GitHub and nbviewer show
the committed outputs; tests/test_notebook.py checks they are what a fresh run gives).

    python examples/run_notebook.py
"""

from pathlib import Path

import nbclient
import nbformat

NOTEBOOK = Path(__file__).with_name("vram.ipynb")

if __name__ == "__main__":
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    nbformat.write(notebook, NOTEBOOK)
    print(f"wrote {NOTEBOOK}")
