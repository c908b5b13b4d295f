"""The memory model: the rules as tables (rules.py), what the runtime takes (runtime.py), the job
with its defaults (job.py), and the two methods: the seed article's rules (article.py) and the
detailed method (detailed/), both giving an Estimate (result.py).
"""
