"""Scheduled promises: one job runner per server, each job once across processes, and the CLI."""
