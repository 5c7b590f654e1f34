import pytest

from dermflow.review.password_hashing import (
    MIN_PASSWORD_LENGTH, PasswordRuleError, hash_password, needs_rehash, verify_password,
)


def test_a_hash_verifies_its_password_only_and_is_salted():
    first, second = hash_password("correct horse battery"), hash_password("correct horse battery")
    assert first != second  # a salt per password
    assert first.startswith("scrypt$n=16384,r=8,p=5$") and "correct" not in first
    assert verify_password("correct horse battery", first) and verify_password("correct horse battery", second)
    assert not verify_password("correct horse batterY", first)
    assert not needs_rehash(first)


def test_a_hash_with_other_parameters_still_verifies_and_asks_to_be_replaced():
    import base64
    import hashlib

    salt = b"0123456789abcdef"
    key = hashlib.scrypt(b"older password", salt=salt, n=1024, r=8, p=1, dklen=32)
    b64 = lambda data: base64.b64encode(data).decode().rstrip("=")  # noqa: E731
    encoded = f"scrypt$n=1024,r=8,p=1${b64(salt)}${b64(key)}"
    assert verify_password("older password", encoded) and needs_rehash(encoded)


@pytest.mark.parametrize("encoded", ["", "bcrypt$x$y$z", "scrypt$n=3,r=8,p=1$AAAA$AAAA", "scrypt$n=1024$AAAA$AAAA",
                                     "scrypt$n=1024,r=8,p=1$!!$AAAA", "scrypt$n=4194304,r=8,p=1$AAAA$AAAA"])
def test_a_malformed_or_abusive_hash_is_false_never_an_error(encoded):
    assert verify_password("whatever password", encoded) is False


def test_short_and_huge_passwords_are_refused_without_repeating_them():
    with pytest.raises(PasswordRuleError, match=f"at least {MIN_PASSWORD_LENGTH}") as short:
        hash_password("pw12345")
    assert "pw12345" not in str(short.value)
    with pytest.raises(PasswordRuleError, match="at most"):
        hash_password("x" * 1025)
    assert verify_password("x" * 1025, hash_password("x" * 1024)) is False
