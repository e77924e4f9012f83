"""Loyalty: the points ledger, earn rules, the contribution score and the merchandise shop."""
