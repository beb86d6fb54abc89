"""Privacy: consent, data inventory and admin policy."""
