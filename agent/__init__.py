"""The Upsight agent: polls devices, keeps history, raises events and serves the local API."""

__version__ = "0.1.0"
