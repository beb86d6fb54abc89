"""Tests of the desktop app."""
