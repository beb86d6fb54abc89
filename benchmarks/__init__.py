"""Benchmarks that print measured numbers; not part of the test run."""
