"""The built-in simulated UPS: plausible physics driven by named scenarios."""
