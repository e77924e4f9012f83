"""Mainland mobile numbers: every common spelling normalises to +86 and 11 digits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carloop.accounts.rules import mask_phone, normalise_phone

mobile = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
prefix = st.sampled_from(["", "+86", "0086", "86", "+86 ", "(+86) "])
separator = st.sampled_from(["", " ", "-", "."])


@pytest.mark.parametrize(
    "typed",
    [
        "13800138000",
        "138 0013 8000",
        "138-0013-8000",
        "+86 138 0013 8000",
        "+8613800138000",
        "008613800138000",
        "86 13800138000",
        "(+86) 138-0013-8000",
        " 13800138000 ",
        "１３８００１３８０００",  # full-width digits from a Chinese input method
    ],
)
def test_common_spellings_normalise_to_e164(typed: str) -> None:
    assert normalise_phone(typed) == "+8613800138000"


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "phone",
        "1380013800",  # ten digits
        "138001380000",  # twelve digits
        "12800138000",  # no mobile range starts with 12
        "23800138000",
        "+1 415 555 0100",
        "+85291234567",  # Hong Kong, not mainland
        "138 0013 80a0",
        "٣٨٠٠١٣٨٠٠٠١",  # other scripts' digits are not accepted
    ],
)
def test_anything_else_is_not_a_mainland_mobile(typed: str) -> None:
    assert normalise_phone(typed) is None


@given(mobile, prefix, separator)
def test_decorated_numbers_normalise_to_the_same_number(digits: str, pre: str, sep: str) -> None:
    typed = pre + sep.join([digits[:3], digits[3:7], digits[7:]])
    assert normalise_phone(typed) == "+86" + digits


@given(mobile)
def test_normalising_is_idempotent(digits: str) -> None:
    once = normalise_phone(digits)
    assert once is not None
    assert normalise_phone(once) == once


def test_masked_phone_hides_the_middle_digits() -> None:
    assert mask_phone("+8613800138000") == "138****8000"
