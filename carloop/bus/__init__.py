"""Outbox events on NATS JetStream: a relay of committed outbox rows and durable consumers per domain."""
