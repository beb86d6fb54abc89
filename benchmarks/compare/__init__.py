"""Upsight beside NUT on one emulated Megatec/Q1 UPS: stacks, the shared unit, measurements."""
