"""Tests of service mode: units, installers, readiness notifications, signals."""
