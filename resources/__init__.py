"""Data files shipped with Upsight (schemas, inventories, icons, simulator profiles)."""
