"""USB HID Power Device support: report descriptors, usage names and value decoding."""
