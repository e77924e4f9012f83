"""carloop: online order, offline delivery, smart service for electric-car makers."""

__version__ = "0.1.0"
