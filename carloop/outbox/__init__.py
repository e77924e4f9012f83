"""The transactional outbox: domain events written with the change, handled after commit."""
