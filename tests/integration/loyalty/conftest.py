"""Loyalty integration tests use the shared builders in tests/loyalty_builders.py."""
