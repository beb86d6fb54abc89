"""Local history: readings downsampled in tiers, events and energy in SQLite."""
