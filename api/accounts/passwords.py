"""Password hashing with argon2id, with a bound on how many hashes run at once."""

from __future__ import annotations

import threading
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from api.errors import Unprocessable

# OWASP's minimum for argon2id: 19 MiB of memory, 2 passes, 1 lane.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32, salt_len=16)
# Each hash holds 19 MiB while it runs: a rush of sign-ins before a deadline queues here
# instead of exhausting memory. Two at once per worker matches the two cores.
_concurrent_hashes = threading.BoundedSemaphore(2)

MIN_LENGTH = 12
MAX_LENGTH = 256
_COMMON = Path(__file__).parent / "data" / "common-passwords.txt"
_common_passwords: frozenset[str] | None = None


def _common() -> frozenset[str]:
    global _common_passwords
    if _common_passwords is None:
        _common_passwords = frozenset(
            line.strip().lower()
            for line in _COMMON.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")
        )
    return _common_passwords


def password_problem(password: str, email: str | None = None) -> str | None:
    """Why a new password is not acceptable, in words a person can act on; None if it is fine."""
    if len(password) < MIN_LENGTH:
        return f"Password must be {MIN_LENGTH} characters or more"
    if len(password) > MAX_LENGTH:
        return f"Password must be {MAX_LENGTH} characters or fewer"
    lowered = password.lower()
    if lowered in _common() or lowered.rstrip("0123456789!") in _common():
        return "Password is too common. Choose a password that is harder to guess"
    if email and email.split("@")[0].lower() in lowered and len(email.split("@")[0]) >= 4:
        return "Password must not contain your email address"
    if len(set(password)) < 4:
        return "Password must not repeat the same few characters"
    return None


def hash_password(password: str) -> str:
    with _concurrent_hashes:
        return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        # Spend the same time as a real check, so an unknown account is not told apart.
        with _concurrent_hashes:
            _hasher.hash(password)
        return False
    with _concurrent_hashes:
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def new_password_errors(password: str, confirm: str, email: str, field: str = "password") -> dict[str, str]:
    """What is wrong with a new password and its confirmation, by form field."""
    if not password:
        return {field: "Enter a new password"}
    problem = password_problem(password, email)
    if problem:
        return {field: problem}
    if not confirm:
        return {"confirm_password": "Enter the new password again to confirm it"}
    if confirm != password:
        return {"confirm_password": "The passwords do not match. Enter the same password in both boxes"}
    return {}


def _check_password(password: str, email: str) -> None:
    problem = password_problem(password, email)
    if problem:
        raise Unprocessable(problem, field="password")
