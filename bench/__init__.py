"""Benchmarks: `python -m bench` (make bench). Figures are printed and written to docs/performance.md."""
