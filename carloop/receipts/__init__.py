"""Numbered receipts: every captured payment and refund gets one, numbered gap-free per year."""
