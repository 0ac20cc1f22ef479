"""Password hashing (argon2id, OWASP parameters) and the password policy."""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app, has_app_context

# OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1.
_OWASP = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Tests only (config PASSWORD_HASH_FAST): same algorithm, cheaper parameters.
_FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

MIN_LENGTH = 12
MAX_LENGTH = 128
COMMON = frozenset("""
password password1 password12 password123 password1234 123456789012 qwertyuiop12 iloveyou1234
letmein12345 welcome12345 administrator passw0rd1234 abc123456789 111111111111 000000000000
123123123123 qwerty123456 monkey123456 dragon123456 football1234 baseball1234 sunshine1234
princess1234 trustno11234 changeme1234 isotretinoin ipledge12345 accutane1234 qwertyqwerty
""".split())


def _hasher() -> PasswordHasher:
    if has_app_context() and current_app.config.get("PASSWORD_HASH_FAST"):
        return _FAST
    return _OWASP


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    if not stored_hash or not isinstance(password, str):
        # Spend the same time as a real check so unknown accounts cannot be told apart.
        _hasher().hash("timing-equaliser-password")
        return False
    try:
        return _hasher().verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def password_problems(password: str, email: str | None = None) -> list[str]:
    """Why a new password is refused (empty list: acceptable)."""
    problems = []
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        problems.append(f"Use at least {MIN_LENGTH} characters.")
        return problems
    if len(password) > MAX_LENGTH:
        problems.append(f"Use at most {MAX_LENGTH} characters.")
    lowered = password.lower()
    if lowered in COMMON or len(set(lowered)) < 4:
        problems.append("This password is too common or too simple; choose another.")
    if email and lowered == email.lower():
        problems.append("Do not use your email address as your password.")
    return problems
