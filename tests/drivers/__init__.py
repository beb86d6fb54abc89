"""Tests of the driver layer."""
