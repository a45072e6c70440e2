"""统一社会信用代码 (GB 32100) validation."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import uscc as stdnum_uscc

from connectors.uscc import ALPHABET, InvalidUSCC, check_character, is_valid_uscc, make_uscc, validate_uscc


def mod31_check(first17: str) -> str:
    """GB 32100 written out independently: weights 3^(i-1) mod 31, C18 = (31 - Σ mod 31) mod 31."""
    total = sum(ALPHABET.index(ch) * pow(3, i, 31) for i, ch in enumerate(first17))
    return ALPHABET[(31 - total % 31) % 31]


# Codes published by their holders on business licences and disclosure documents (holder as we
# recall it; what the tests rely on is that each one verifies under the mod-31 rule).
PUBLISHED = [
    "91110000600037341L",  # the python-stdnum doctest example
    "914403001922038216",  # 华为技术有限公司
    "9144030071526726XG",  # 深圳市腾讯计算机系统有限公司
    "911000001000013428",  # 中国银行股份有限公司
    "91100000100003962T",  # 中国工商银行股份有限公司
    "91110108551385082Q",  # 小米科技有限责任公司
    "91330100716105852F",  # 阿里巴巴（中国）有限公司
    "91350100M000100Y43",  # the example of STYLE.md, corrected check character
]

# No published code starting with A, N or Y could be verified here, so these are constructed with
# the mod-31 rule from well-formed prefixes: A (军队编制) 1, N (农业: 村级集体经济组织) 2, Y (其他) 1.
CONSTRUCTED_ANY = ["A1350100MA0001000T", "N2350100MF0001000M", "Y1110000MB00010005"]


@pytest.mark.parametrize("code", PUBLISHED)
def test_published_codes_are_valid(code):
    assert validate_uscc(code) == code
    assert mod31_check(code[:17]) == code[17]
    assert stdnum_uscc.is_valid(code)  # stdnum agrees on digit-led codes


@pytest.mark.parametrize("code", CONSTRUCTED_ANY)
def test_codes_led_by_a_n_or_y_are_valid_although_stdnum_rejects_them(code):
    assert mod31_check(code[:17]) == code[17]
    assert validate_uscc(code) == code
    assert not stdnum_uscc.is_valid(code)  # why connectors/uscc.py wraps stdnum


def test_the_code_in_the_brief_does_not_verify():
    # "91110000100000589B" was offered as an example; its check character is A, so it is not a
    # real code as written (or was mistyped) — the validator must say so.
    with pytest.raises(InvalidUSCC, match="check character should be A"):
        validate_uscc("91110000100000589B")


def test_wrong_check_character_message_names_value_and_the_right_character():
    with pytest.raises(InvalidUSCC) as exc:
        validate_uscc("91350100M000100Y4X")
    assert str(exc.value) == "uscc 91350100M000100Y4X: check character should be 3"
    assert exc.value.reason == "check character should be 3"
    assert isinstance(exc.value, ValueError)


@pytest.mark.parametrize("position", range(18))
def test_one_changed_character_is_rejected(position):
    code = "914403001922038216"
    for ch in ALPHABET:
        if ch != code[position]:
            assert not is_valid_uscc(code[:position] + ch + code[position + 1:])


@pytest.mark.parametrize("letter", "IOSVZ")
def test_letters_outside_the_alphabet_are_named(letter):
    code = "91350100M000100Y43"
    bad = code[:9] + letter + code[10:]
    with pytest.raises(InvalidUSCC, match=f"character '{letter}' at position 10 is not allowed"):
        validate_uscc(bad)


@pytest.mark.parametrize("code,reason", [
    ("91350100M000100Y4", "has 17 characters, should be 18"),
    ("91350100M000100Y433", "has 19 characters, should be 18"),
    ("", "has 0 characters, should be 18"),
    ("01350100M000100Y43", "first character (registration department, 登记管理部门) should be 1-9, A, N or Y"),
    ("B1350100M000100Y43", "should be 1-9, A, N or Y, not 'B'"),
    ("9135010AM000100Y43", "positions 3-8 should be a 6-digit region code"),
    ("91350100M000100Y4#", "character '#' at position 18 is not allowed"),
    ("９１350100M000100Y43", "character '９' at position 1 is not allowed"),
])
def test_malformed_codes_say_what_is_wrong(code, reason):
    with pytest.raises(InvalidUSCC, match=reason.replace("(", r"\(").replace(")", r"\)")):
        validate_uscc(code)


def test_lowercase_and_separators_are_normalised():
    assert validate_uscc("91350100m000100y43") == "91350100M000100Y43"
    assert validate_uscc(" 9135 0100-M000 100Y43 ") == "91350100M000100Y43"
    assert validate_uscc("9144030071526726xg") == "9144030071526726XG"


@pytest.mark.parametrize("value", [None, 914403001922038216, b"914403001922038216", ["914403001922038216"]])
def test_non_strings_are_rejected_cleanly(value):
    with pytest.raises(InvalidUSCC, match="should be a string"):
        validate_uscc(value)  # type: ignore[arg-type]
    assert is_valid_uscc(value) is False


def test_make_uscc_appends_the_check_character_and_checks_the_prefix():
    assert make_uscc("91350100M000100Y4") == "91350100M000100Y43"
    assert make_uscc("n2350100mf0001000") == "N2350100MF0001000M"
    with pytest.raises(InvalidUSCC, match="has 18 characters, should be 17"):
        make_uscc("91350100M000100Y43")
    with pytest.raises(InvalidUSCC, match="position 3-8|positions 3-8"):
        make_uscc("91ABCDEFM000100Y4")


# -- properties ---------------------------------------------------------------------------------------

first17 = st.builds(
    lambda dept, category, region, body: dept + category + region + body,
    st.sampled_from("123456789ANY"),
    st.sampled_from(ALPHABET),
    st.text("0123456789", min_size=6, max_size=6),
    st.text(ALPHABET, min_size=9, max_size=9),
)


@settings(max_examples=500)
@given(first17)
def test_make_uscc_always_validates(prefix):
    code = make_uscc(prefix)
    assert len(code) == 18 and code.startswith(prefix)
    assert validate_uscc(code) == code
    assert code[17] == mod31_check(prefix)


@settings(max_examples=500)
@given(first17)
def test_check_character_agrees_with_python_stdnum(prefix):
    # stdnum's check digit indexes each character into the alphabet, so it covers A/N/Y too
    assert check_character(prefix) == stdnum_uscc.calc_check_digit(prefix) == mod31_check(prefix)


@settings(max_examples=500)
@given(first17, st.integers(0, 17), st.characters(codec="utf-8"))
def test_any_single_character_change_never_validates(prefix, position, replacement):
    code = make_uscc(prefix)
    if replacement.upper() == code[position]:
        replacement = ALPHABET[(ALPHABET.index(code[position]) + 1) % 31]
    changed = code[:position] + replacement + code[position + 1:]
    assert not is_valid_uscc(changed)


@settings(max_examples=300)
@given(first17, st.integers(0, 15))
def test_swapping_two_adjacent_different_characters_never_validates(prefix, position):
    code = make_uscc(prefix)
    a, b = code[position], code[position + 1]
    if a != b:
        assert not is_valid_uscc(code[:position] + b + a + code[position + 2:])


@settings(max_examples=300)
@given(st.text(max_size=30))
def test_arbitrary_text_gives_a_bool_or_invalid_uscc(text):
    try:
        assert validate_uscc(text) == text.replace(" ", "").replace("-", "").strip().upper()
    except InvalidUSCC as exc:
        assert str(exc).startswith("uscc ")
