"""core.base62: round trips, ordering, validation, and the randomness of short codes."""

from __future__ import annotations

import string
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.base62 import ALPHABET, decode, encode, is_base62, random_code

base62_text = st.text(alphabet=ALPHABET, min_size=1, max_size=30)


def test_alphabet_is_digits_then_upper_then_lower_in_ascii_order():
    assert string.digits + string.ascii_uppercase + string.ascii_lowercase == ALPHABET
    assert list(ALPHABET) == sorted(ALPHABET)


def test_known_values():
    assert encode(0) == "0"
    assert encode(61) == "z"
    assert encode(62) == "10"
    assert encode(62**7 - 1) == "zzzzzzz"
    assert decode("zzzzzzz") == 62**7 - 1 == 3_521_614_606_207


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_decode_inverts_encode(n):
    assert decode(encode(n)) == n


@given(base62_text.filter(lambda s: s == "0" or not s.startswith("0")))
def test_encode_inverts_decode_without_leading_zeros(s):
    assert encode(decode(s)) == s


@given(base62_text)
def test_leading_zeros_do_not_change_the_value(s):
    assert decode("00" + s) == decode(s)


@given(st.integers(min_value=0, max_value=2**64), st.integers(min_value=0, max_value=2**64))
def test_equal_length_encodings_sort_like_their_numbers(a, b):
    ea, eb = encode(a), encode(b)
    if len(ea) == len(eb):
        assert (ea < eb) == (a < b)
    else:  # no padding: the shorter encoding is the smaller number
        assert (len(ea) < len(eb)) == (a < b)


@given(st.integers(max_value=-1))
def test_encode_rejects_negative_numbers(n):
    with pytest.raises(ValueError, match="non-negative"):
        encode(n)


def test_decode_rejects_the_empty_string():
    with pytest.raises(ValueError, match="empty"):
        decode("")


@given(base62_text, st.characters().filter(lambda c: c not in ALPHABET), base62_text)
def test_decode_rejects_any_character_outside_the_alphabet_and_names_it(head, bad, tail):
    with pytest.raises(ValueError, match="invalid base62 character") as excinfo:
        decode(head + bad + tail)
    assert repr(bad) in str(excinfo.value)
    assert f"position {len(head)}" in str(excinfo.value)


@given(st.text(max_size=20))
def test_is_base62_is_true_exactly_when_decode_accepts(s):
    try:
        decode(s)
    except ValueError:
        accepted = False
    else:
        accepted = True
    assert is_base62(s) is accepted


def test_is_base62_rejects_non_strings_and_lookalikes():
    assert not is_base62(None)
    assert not is_base62(123)
    assert not is_base62(b"abc")
    assert not is_base62("abc\n")
    assert not is_base62("١٢٣")  # Arabic-Indic digits are digits to str.isdigit, not to us


@given(st.integers(min_value=1, max_value=40))
def test_random_code_has_the_requested_length_and_only_alphabet_characters(length):
    code = random_code(length)
    assert len(code) == length
    assert is_base62(code)


def test_random_code_defaults_to_seven_characters():
    assert len(random_code()) == 7


@pytest.mark.parametrize("length", [0, -1])
def test_random_code_rejects_a_length_below_one(length):
    with pytest.raises(ValueError, match="length"):
        random_code(length)


def test_random_code_characters_are_uniform_in_every_position():
    # Chi-square per position over 62 * 500 codes: a bias (e.g. a padding bug that favours
    # "0" in the first position) gives a statistic in the thousands. 61 degrees of freedom;
    # 125 is beyond the 1e-6 quantile, so an unbiased generator fails about once in a million.
    draws = 62 * 500
    codes = [random_code() for _ in range(draws)]
    expected = draws / 62
    for position in range(7):
        counts = Counter(code[position] for code in codes)
        chi_square = sum((counts[c] - expected) ** 2 / expected for c in ALPHABET)
        assert chi_square < 125, (position, chi_square)


def test_random_codes_do_not_repeat_in_a_small_sample():
    codes = {random_code() for _ in range(10_000)}
    assert len(codes) == 10_000  # birthday bound at 3.5e12: a repeat here is ~1e-5
