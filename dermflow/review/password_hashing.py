"""Password hashes with the standard library's scrypt: a salt per password, the parameters inside the hash.

    encoded = hash_password("correct horse battery")   # 'scrypt$n=16384,r=8,p=5$<salt>$<key>'
    verify_password("correct horse battery", encoded)  # True, compared in constant time

Parameters: N=2^14, r=8, p=5 (16 MiB, one of OWASP's scrypt settings), a 16-byte random salt and a
32-byte key, all base64 in the encoded string, so a hash made with other parameters still verifies
(``needs_rehash`` says when to replace it). A password is at least ``MIN_PASSWORD_LENGTH`` characters.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SCHEME = "scrypt"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 5
SALT_BYTES, KEY_BYTES = 16, 32
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024  # scrypt's cost does not grow with it, but nobody types more
_MAX_N = 2**20


class PasswordRuleError(ValueError):
    """A password too short or too long (the message never repeats it)."""


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordRuleError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters long")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordRuleError(f"the password must be at most {MAX_PASSWORD_LENGTH} characters long")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=length,
                          maxmem=256 * r * n + 2**20)


def hash_password(password: str) -> str:
    """The encoded hash of ``password`` (after ``check_password_rules``)."""
    check_password_rules(password)
    salt = secrets.token_bytes(SALT_BYTES)
    key = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, KEY_BYTES)
    return f"{SCHEME}$n={SCRYPT_N},r={SCRYPT_R},p={SCRYPT_P}${_b64(salt)}${_b64(key)}"


def _decode(encoded: str) -> tuple[int, int, int, bytes, bytes]:
    scheme, params, salt, key = encoded.split("$")
    if scheme != SCHEME:
        raise ValueError(f"not an {SCHEME} hash")
    values = dict(item.split("=") for item in params.split(","))
    n, r, p = int(values["n"]), int(values["r"]), int(values["p"])
    if not (1 < n <= _MAX_N and n & (n - 1) == 0 and 0 < r <= 32 and 0 < p <= 64):
        raise ValueError("scrypt parameters out of range")
    return n, r, p, _unb64(salt), _unb64(key)


def verify_password(password: str, encoded: str) -> bool:
    """True when ``password`` matches; a malformed hash or an over-long password is False, never an error."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        n, r, p, salt, key = _decode(encoded)
    except (ValueError, KeyError):
        return False
    return hmac.compare_digest(_scrypt(password, salt, n, r, p, len(key)), key)


def needs_rehash(encoded: str) -> bool:
    """True when the hash was made with other parameters than today's (rehash it at the next sign-in)."""
    try:
        n, r, p, salt, key = _decode(encoded)
    except (ValueError, KeyError):
        return True
    return (n, r, p, len(salt), len(key)) != (SCRYPT_N, SCRYPT_R, SCRYPT_P, SALT_BYTES, KEY_BYTES)


# Verified against when the name is unknown, so a sign-in takes as long whether or not the account exists.
DUMMY_HASH = f"{SCHEME}$n={SCRYPT_N},r={SCRYPT_R},p={SCRYPT_P}${_b64(bytes(SALT_BYTES))}${_b64(bytes(KEY_BYTES))}"
