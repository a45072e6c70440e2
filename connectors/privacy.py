"""Tokenisation of personal data at intake (举报人信息保密).

SAMR 总局令第20号 Art. 33 forbids disclosing a reporter's identity; DESIGN.md §10 therefore keeps
complainant names, phone numbers and natural persons' ID numbers out of Kafka, SQL and logs.
They become keyed HMAC tokens: the same person gets the same token (so repeated complaints can
be correlated) but the clear value cannot be recovered without the secret, and a dictionary
attack over all phone numbers needs the secret too (a plain hash would not).
"""
from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata

TOKEN_PREFIX = "tk_"
TOKEN_RE = re.compile(r"^tk_[0-9a-f]{32}$")
_PHONE_NOISE = re.compile(r"[\s\-()]+")


def normalise(field: str, value: str) -> str:
    """The form that is hashed: one person, one token, however the sender formatted it."""
    text = unicodedata.normalize("NFKC", value).strip()  # full-width digits → ASCII
    if field == "phone":
        text = _PHONE_NOISE.sub("", text)
        if text.startswith("+86"):
            text = text[3:]
    elif field == "id_number":
        text = text.replace(" ", "").upper()  # the 居民身份证 check character x/X
    else:
        text = " ".join(text.split())
    return text


class Tokeniser:
    """`Tokeniser(secret)(field, value)` → "tk_" + HMAC-SHA256(secret, field "\\x1f" value)[:32 hex].

    The field name is part of the message so a phone number and a name that happen to be
    equal strings get different tokens.
    """

    def __init__(self, secret: bytes):
        if not isinstance(secret, (bytes, bytearray)) or not secret:
            raise ValueError("Tokeniser secret must be non-empty bytes (configure the intake secret)")
        self._secret = bytes(secret)

    def __call__(self, field: str, value: str) -> str:
        message = f"{field}\x1f{normalise(field, value)}".encode("utf-8")
        return TOKEN_PREFIX + hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:32]

    def __repr__(self) -> str:  # never print the secret
        return "Tokeniser(<secret>)"
