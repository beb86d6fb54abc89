"""Real third-party peers (NUT's upsd and drivers) run by tests in private directories."""
