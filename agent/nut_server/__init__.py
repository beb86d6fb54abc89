"""Serve the agent's devices to NUT clients over the NUT network protocol."""
