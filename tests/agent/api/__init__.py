"""Tests of the local API transport."""
