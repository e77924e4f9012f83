"""Test data builders, one module per domain (``builders.accounts``, ``builders.ordering``)."""
