"""Money in integer fen: conversion, rounding and locale formatting in one place."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import format_currency

FEN_PER_YUAN = 100


def yuan(amount: int | str | Decimal) -> int:
    """Whole or decimal yuan as integer fen (``yuan(5000) == 500000``)."""
    fen = (Decimal(amount) * FEN_PER_YUAN).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(fen)


def to_decimal(fen: int) -> Decimal:
    """Integer fen as a yuan ``Decimal`` with two places."""
    return (Decimal(fen) / FEN_PER_YUAN).quantize(Decimal("0.01"))


def format_fen(fen: int, locale: str = "zh_CN") -> str:
    """``¥5,000.00`` (or ``-¥5,000.00``) formatted for the locale."""
    return format_currency(to_decimal(fen), "CNY", locale=locale)
