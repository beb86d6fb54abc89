"""Tests of the serial UPS protocols and their emulated devices."""
