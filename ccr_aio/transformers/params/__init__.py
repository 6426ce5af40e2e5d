"""Request-parameter transformers: small request hooks that cap, pin or add fields."""
