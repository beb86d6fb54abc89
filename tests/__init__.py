"""Upsight's test suite."""
