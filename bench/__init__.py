"""Benchmarks: each prints a table comparing diffscan with plain baselines in the same run."""
