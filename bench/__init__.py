"""Benchmarks (性能基准): numbers, not timed tests. See bench/RESULTS.md for the commands."""
