"""Serial UPS protocols: Megatec/Q1 and APC Smart, as pure functions over bytes."""
