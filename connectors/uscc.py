"""统一社会信用代码 (USCC, unified social credit code) per GB 32100-2015.

Layout (DOMAIN.md §8): position 1 registration department (登记管理部门: 1–9, or A, N, Y),
2 institution category (机构类别), 3–8 the GB/T 2260 region code (行政区划码, digits), 9–17 the
GB 11714 subject code (主体标识码), 18 the check character (校验码) over the 31-character
alphabet without I, O, S, V, Z, weights 3^(i−1) mod 31.

python-stdnum's `stdnum.cn.uscc.validate` insists on eight leading digits and so rejects the
valid department codes A, N and Y; this module does its own structural checks and its own check
character. Every record of every intake request names one or more codes, so the common case (a
well-formed code in upper case) takes one regular-expression match and 17 table lookups; the
character-by-character checks run only to say what is wrong with a code (python-stdnum's check
was 8 % of the API's CPU at 1,000 records/s: bench/RESULTS.md "Session 6"). The tests
cross-check the check character against an independent implementation of the mod-31 rule and
against python-stdnum.
"""
from __future__ import annotations

import re

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# 1 机构编制 2 外交 3 司法行政 4 文化 5 民政 6 旅游 7 宗教 8 工会 9 市场监管(工商) A 中央军委改革和编制办公室
# N 农业 Y 其他
DEPARTMENTS = "123456789ANY"
_DIGITS = "0123456789"
_SEPARATORS = str.maketrans("", "", " -")
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))  # 3^(i-1) mod 31 for positions 1..17
# department, category, 6-digit region, 9 subject characters, check character (alphabet: no I O S V Z)
_WELL_FORMED = re.compile(r"[1-9ANY][0-9A-HJ-NP-RTUW-Y][0-9]{6}[0-9A-HJ-NP-RTUW-Y]{10}")


class InvalidUSCC(ValueError):
    """The value is not a well-formed 统一社会信用代码; the message names it and says what is
    wrong (`uscc 91350100M000100Y4X: check character should be 3`); `reason` is the second half."""

    def __init__(self, code: str, reason: str):
        self.code, self.reason = code, reason
        super().__init__(f"uscc {code}: {reason}")


def check_character(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters (already upper-case):
    C18 = (31 - Σ value(Ci)·3^(i-1) mod 31) mod 31."""
    return ALPHABET[-sum(_VALUE[ch] * w for ch, w in zip(first17, _WEIGHTS)) % 31]


def _normalise(code: object) -> str:
    if not isinstance(code, str):
        raise InvalidUSCC(repr(code), f"should be a string of 18 characters, not {type(code).__name__}")
    return code.translate(_SEPARATORS).strip().upper()


def _check_structure(code: str, raw: str, *, expected_len: int) -> None:
    shown = raw if len(raw) <= 40 else raw[:40] + "…"
    if len(code) != expected_len:
        raise InvalidUSCC(shown, f"has {len(code)} characters, should be {expected_len}")
    for i, ch in enumerate(code, start=1):
        if ch not in ALPHABET:
            raise InvalidUSCC(
                shown, f"character {ch!r} at position {i} is not allowed "
                f"(alphabet {ALPHABET}: digits and capital letters without I, O, S, V, Z)")
    if code[0] not in DEPARTMENTS:
        raise InvalidUSCC(
            shown, f"first character (registration department, 登记管理部门) should be "
            f"1-9, A, N or Y, not {code[0]!r}")
    region = code[2:8]
    if not all(ch in _DIGITS for ch in region):
        raise InvalidUSCC(
            shown, f"positions 3-8 should be a 6-digit region code (行政区划码), not {region!r}")


def validate_uscc(code: str) -> str:
    """Return the normalised code (spaces and hyphens removed, upper case) or raise
    InvalidUSCC naming the value and the first thing wrong with it."""
    if type(code) is str and _WELL_FORMED.fullmatch(code) and check_character(code[:17]) == code[17]:
        return code  # already normal and valid: the common case
    normal = _normalise(code)
    _check_structure(normal, code, expected_len=18)
    expected = check_character(normal[:17])
    if normal[17] != expected:
        raise InvalidUSCC(normal, f"check character should be {expected}")
    return normal


def is_valid_uscc(code: object) -> bool:
    try:
        validate_uscc(code)  # type: ignore[arg-type]
    except InvalidUSCC:
        return False
    return True


def make_uscc(first17: str) -> str:
    """Append the check character to 17 well-formed characters (used by test-data generators)."""
    normal = _normalise(first17)
    _check_structure(normal, first17, expected_len=17)
    return normal + check_character(normal)
