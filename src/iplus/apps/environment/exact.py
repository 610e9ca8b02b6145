"""Exact decimal arithmetic and the rounding rules the air and water standards prescribe."""

from __future__ import annotations

import math
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from fractions import Fraction


def decimal_of(value: float | int | str | Decimal) -> Decimal:
    """The decimal number as written: a float goes through its shortest repr, so 0.35 stays 0.35."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        # repr is the shortest string that reads back as the same float: the value the caller wrote
        return Decimal(repr(value))
    return Decimal(value)


def round_gb8170(value: Decimal, quantum: Decimal) -> Decimal:
    """GB/T 8170-2008 rounding to a multiple of ``quantum``, done once on the exact value.

    Below 5 drop, above 5 carry; exactly 5 followed by nothing or only zeros: carry when the kept digit
    is odd, drop when it is even ("四舍六入五考虑, 五后非零则进一, 五后皆零视奇偶"), which on an exact
    decimal is round-half-to-even. Negative numbers round by their absolute value, as the rule says.
    """
    return value.quantize(quantum, rounding=ROUND_HALF_EVEN)


def truncate(value: Decimal, quantum: Decimal) -> Decimal:
    """Drop the digits below ``quantum`` (toward zero), as the EPA AQI truncates concentrations."""
    return value.quantize(quantum, rounding=ROUND_DOWN)


def ceil_int(value: Fraction) -> int:
    """Round up to an integer ("全部进位取整数"): exact, so an index of exactly 55 stays 55."""
    return math.ceil(value)


def round_half_up(value: Fraction) -> int:
    """Round a non-negative exact value to the nearest integer, halves upward (EPA: 125.5 -> 126)."""
    return math.floor(value + Fraction(1, 2))


def interpolate(c: Fraction, c_lo: Fraction, c_hi: Fraction, i_lo: int, i_hi: int) -> Fraction:
    """The linear index of both AQI systems: (I_hi - I_lo) / (C_hi - C_lo) * (C - C_lo) + I_lo, exactly."""
    return Fraction(i_hi - i_lo) / (c_hi - c_lo) * (c - c_lo) + i_lo
