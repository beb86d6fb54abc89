"""Tests of the privacy components."""
