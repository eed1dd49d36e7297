"""Benchmarks: run with ``./run.sh bench [NAME]``; each writes its figures to bench/results/."""
