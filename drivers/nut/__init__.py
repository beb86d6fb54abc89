"""NUT network protocol client: read any upsd (``nut://`` devices)."""
