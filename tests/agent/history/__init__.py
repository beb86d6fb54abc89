"""Tests of the local history: tiers, events, energy and the recorder thread."""
