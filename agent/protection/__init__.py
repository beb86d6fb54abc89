"""Protection: decide when this computer must shut down on battery, and do it reliably."""
