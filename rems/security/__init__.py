"""Security primitives: passwords, tokens, hashing helpers."""
