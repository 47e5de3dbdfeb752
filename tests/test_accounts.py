import pytest

from core.errors import AuthError, Conflict, NotFound, ValidationError
from core.services import accounts as acc


def test_register_normalises_email_and_hashes_with_bcrypt(services, fast_bcrypt):
    user = services.accounts.register("  Ada.Lovelace@Example.EDU ", "analytical-engine-1", "Ada")
    assert user.email == "ada.lovelace@example.edu"
    assert user.password_hash.startswith("$2b$") and "analytical" not in user.password_hash
    assert services.accounts.authenticate("ADA.LOVELACE@example.edu", "analytical-engine-1").id == user.id


def test_duplicate_email_is_a_clear_conflict(services, fast_bcrypt):
    services.accounts.register("a@example.edu", "first-password-1")
    with pytest.raises(Conflict, match="already exists"):
        services.accounts.register("A@EXAMPLE.EDU", "other-password-2")
    assert services.accounts.count() == 1


@pytest.mark.parametrize("password, reason", [
    ("short1", "at least 8"),
    ("password", "too common"),
    ("abcdefghij", "mix letters"),
    ("1234567890", "mix letters"),
])
def test_weak_passwords_are_refused_with_the_reason(services, password, reason):
    with pytest.raises(ValidationError, match=reason):
        services.accounts.register("weak@example.edu", password)
    assert services.accounts.count() == 0


@pytest.mark.parametrize("email", ["", "no-at-sign", "two@@example.edu", "spaces in@example.edu", "x@nodot"])
def test_invalid_emails_are_refused(services, email):
    with pytest.raises(ValidationError):
        services.accounts.register(email, "good-password-1")


def test_wrong_password_and_unknown_email_give_the_same_message(services, fast_bcrypt):
    services.accounts.register("a@example.edu", "right-password-1")
    with pytest.raises(AuthError) as wrong:
        services.accounts.authenticate("a@example.edu", "wrong-password-1")
    with pytest.raises(AuthError) as unknown:
        services.accounts.authenticate("nobody@example.edu", "right-password-1")
    assert str(wrong.value) == str(unknown.value) == "Wrong email or password."


def test_repeated_failures_lock_the_account(services, fast_bcrypt):
    services.accounts.register("a@example.edu", "right-password-1")
    for _ in range(acc.MAX_FAILED_LOGINS - 1):
        with pytest.raises(AuthError, match="^Wrong email or password.$"):
            services.accounts.authenticate("a@example.edu", "wrong-password-1")
    assert services.accounts.authenticate("a@example.edu", "right-password-1")  # one short: still open
    for _ in range(acc.MAX_FAILED_LOGINS):  # a success starts the count again
        with pytest.raises(AuthError, match="^Wrong email or password.$"):
            services.accounts.authenticate("a@example.edu", "wrong-password-1")
    with pytest.raises(AuthError, match="locked"):
        services.accounts.authenticate("a@example.edu", "right-password-1")


def test_change_password(services, fast_bcrypt):
    user = services.accounts.register("a@example.edu", "old-password-1")
    with pytest.raises(AuthError, match="current password is wrong"):
        services.accounts.change_password(user.actor(), "not-it-1", "new-password-2")
    with pytest.raises(ValidationError):
        services.accounts.change_password(user.actor(), "old-password-1", "short")
    services.accounts.change_password(user.actor(), "old-password-1", "new-password-2")
    with pytest.raises(AuthError):
        services.accounts.authenticate("a@example.edu", "old-password-1")
    assert services.accounts.authenticate("a@example.edu", "new-password-2").id == user.id


def test_admins_come_from_admin_emails(settings, fast_bcrypt):
    from core.search.embeddings import FakeEmbedder
    from core.services import build_services

    svc = build_services(settings.model_copy(update={"admin_emails": "Boss@Example.edu, other@x.org"}),
                         migrate=True, embedder=FakeEmbedder())
    assert svc.accounts.register("boss@example.edu", "boss-password-1").is_admin
    assert not svc.accounts.register("pleb@example.edu", "pleb-password-1").is_admin


def test_unknown_user_lookups(services):
    with pytest.raises(NotFound):
        services.accounts.by_email("ghost@example.edu")
    with pytest.raises(NotFound):
        services.accounts.get(None)
