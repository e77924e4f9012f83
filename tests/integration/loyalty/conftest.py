"""Loyalty integration tests use the shared builders in tests/builders/."""
