"""Passwords: how strong one must be (zxcvbn), and bcrypt hashing and checking."""
from __future__ import annotations

import functools

import bcrypt

from core.errors import ValidationError

MIN_PASSWORD_LEN = 8
MAX_PASSWORD_BYTES = 72  # bcrypt ignores what comes after
MIN_SCORE = 3  # zxcvbn's "safely unguessable": about 10^8 guesses or more
BCRYPT_ROUNDS = 12
PASSWORD_RULES = (f"At least {MIN_PASSWORD_LEN} characters and hard to guess: not a common password, a "
                  "keyboard pattern, a date or your name. A few unrelated words work well.")


def check_password_strength(password: str, email: str = "", name: str = "") -> None:
    """Refuse a password that is too short, too long or quick to guess, saying why."""
    if len(password) < MIN_PASSWORD_LEN:
        raise ValidationError(f"Password too weak: use at least {MIN_PASSWORD_LEN} characters.")
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise ValidationError(f"Password too long: bcrypt uses at most {MAX_PASSWORD_BYTES} bytes.")
    local = email.split("@")[0].lower()
    if local and password.lower() in (local, email.lower()):
        raise ValidationError("Password too weak: it matches your email.")
    from zxcvbn import zxcvbn  # its dictionaries load with the first check, not on the login page's path

    personal = [part for part in (email, local, *name.split(), "classgpt") if part]
    result = zxcvbn(password, user_inputs=personal)
    if result["score"] < MIN_SCORE:
        feedback = result["feedback"]
        why = (feedback.get("warning") or "it would be guessed quickly").rstrip(".")
        advice = " ".join(feedback.get("suggestions") or ["Add another word or two. Uncommon words are better."])
        raise ValidationError(f"Password too weak: {why[0].lower()}{why[1:]}. {advice}")


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=BCRYPT_ROUNDS)).decode()


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode(), password_hash.encode())
    except ValueError:  # a malformed stored hash is a failed check, not a crash
        return False


@functools.cache
def dummy_hash() -> str:
    """Checked against when the email is unknown, so a wrong email costs as long as a wrong
    password and response time does not reveal which emails have accounts. Made on first use:
    a bcrypt hash at import would slow the login page's first paint."""
    return hash_password("dummy-password-for-timing-1")
