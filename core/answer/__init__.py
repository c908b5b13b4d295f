"""From an estimate to an answer: the pipeline (pipeline.py), the fit verdict (fit.py), what would
make it fit (advice.py), the solvers (solvers.py) and sweeps (sweep.py).
"""
