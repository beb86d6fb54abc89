"""Tests of the HID report-descriptor parser, usage names and value decoder."""
