"""Accounts: registration, password strength, throttled logins, server-side sessions, admin rights
from the operator only, and deleting an account without opening its classes to anyone."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from core.errors import AuthError, Conflict, NotFound, PermissionDenied, TooManyAttempts, ValidationError
from core.models import Class, Enrollment, ThrottleEntry, User, UserSession, utcnow
from core.services import accounts as acc
from core.services.actors import SYSTEM, Actor
from core.services.passwords import verify_password


def _hash_of(services, email):
    with services.db.transaction() as s:
        return s.scalar(select(User.password_hash).where(User.email == email))


def test_register_normalises_email_and_hashes_with_bcrypt(services, fast_bcrypt):
    user = services.accounts.register("  Ada.Lovelace@Example.EDU ", "analytical-engine-1", "Ada")
    assert user.email == "ada.lovelace@example.edu"
    stored = _hash_of(services, user.email)
    assert stored.startswith("$2b$") and "analytical" not in stored and verify_password("analytical-engine-1", stored)
    assert services.accounts.authenticate("ADA.LOVELACE@example.edu", "analytical-engine-1").id == user.id


def test_duplicate_email_is_a_clear_conflict(services, fast_bcrypt):
    services.accounts.register("a@example.edu", "first-password-1")
    with pytest.raises(Conflict, match="already exists"):
        services.accounts.register("A@EXAMPLE.EDU", "other-password-2")
    assert services.accounts.count() == 1


@pytest.mark.parametrize("password, reason", [
    ("short1", "at least 8"),
    ("password", "top-10 common password"),
    ("Summer2024", "similar to a commonly used password"),
    ("qwerty123", "very common password"),
    ("1234567890", "top-100 common password"),
    ("weak@example.edu", "matches your email"),
    ("x" * 73, "at most 72 bytes"),
])
def test_weak_passwords_are_refused_with_the_reason(services, password, reason):
    with pytest.raises(ValidationError, match=reason) as refused:
        services.accounts.register("weak@example.edu", password)
    assert str(refused.value).startswith("Password too")
    assert services.accounts.count() == 0


def test_a_password_made_of_the_users_own_name_is_weak(services):
    with pytest.raises(ValidationError, match="Password too weak"):
        services.accounts.register("grace@example.edu", "GraceHopper", "Grace Hopper")


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


# ---- throttling --------------------------------------------------------------------------------
def _fail(services, email, client, times):
    for _ in range(times):
        with pytest.raises(AuthError, match="^Wrong email or password.$"):
            services.accounts.authenticate(email, "wrong-password-1", client)


def test_failures_from_one_address_grow_a_delay_there_only(services, fast_bcrypt):
    services.accounts.register("a@example.edu", "right-password-1")
    _fail(services, "a@example.edu", "203.0.113.9", acc.LOGIN_PAIR.free)
    # free failures are free: the right password still works from there
    assert services.accounts.authenticate("a@example.edu", "right-password-1", "203.0.113.9")
    _fail(services, "a@example.edu", "203.0.113.9", acc.LOGIN_PAIR.free + 1)
    with pytest.raises(TooManyAttempts, match="try again in") as held:
        services.accounts.authenticate("a@example.edu", "right-password-1", "203.0.113.9")
    assert 0 < held.value.retry_after <= acc.LOGIN_PAIR.first_delay.total_seconds()
    # the owner, from another address, is not held back by the attacker's failures
    assert services.accounts.authenticate("a@example.edu", "right-password-1", "198.51.100.7")


def test_delays_double_and_stop_at_the_ceiling():
    policy = acc.LOGIN_PAIR
    delays = [policy.delay(n) for n in range(policy.free, policy.free + 12)]
    assert delays[0] == timedelta(0) and delays[1] == policy.first_delay and delays[2] == 2 * policy.first_delay
    assert max(delays) == policy.longest and delays == sorted(delays)


def test_a_distributed_guess_is_held_back_per_account_but_not_at_the_owners_address(services, fast_bcrypt):
    services.accounts.register("a@example.edu", "right-password-1")
    assert services.accounts.authenticate("a@example.edu", "right-password-1", "192.0.2.1")  # the owner's
    for i in range(acc.LOGIN_ACCOUNT.free + 1):  # one failure from each of many addresses
        _fail(services, "a@example.edu", f"10.0.{i // 250}.{i % 250}", 1)
    with pytest.raises(TooManyAttempts):
        services.accounts.authenticate("a@example.edu", "right-password-1", "10.9.9.9")
    assert services.accounts.authenticate("a@example.edu", "right-password-1", "192.0.2.1")


def test_one_address_guessing_many_accounts_is_held_back(services, fast_bcrypt):
    with services.db.transaction() as s:  # as if this address had already failed on many accounts
        s.add(ThrottleEntry(scope=acc.LOGIN_ADDRESS.scope, key="203.0.113.66", failures=acc.LOGIN_ADDRESS.free,
                            last_failure_at=utcnow()))
    _fail(services, "victim1@example.edu", "203.0.113.66", 1)
    with pytest.raises(TooManyAttempts):
        services.accounts.authenticate("victim2@example.edu", "any-password-1", "203.0.113.66")


def test_failures_are_forgotten_a_day_after_the_last(services, fast_bcrypt):
    services.accounts.register("a@example.edu", "right-password-1")
    _fail(services, "a@example.edu", "203.0.113.9", acc.LOGIN_PAIR.free + 1)
    with pytest.raises(TooManyAttempts):
        services.accounts.authenticate("a@example.edu", "right-password-1", "203.0.113.9")
    with services.db.transaction() as s:
        s.execute(update(ThrottleEntry).values(last_failure_at=utcnow() - timedelta(days=2), blocked_until=None))
    _fail(services, "a@example.edu", "203.0.113.9", 1)  # counts from one again: no delay
    assert services.accounts.authenticate("a@example.edu", "right-password-1", "203.0.113.9")


# ---- sessions ----------------------------------------------------------------------------------
def test_a_session_lives_on_the_server_and_ends_there(services, fast_bcrypt):
    user = services.accounts.register("a@example.edu", "right-password-1")
    login = services.accounts.log_in("a@example.edu", "right-password-1")
    assert services.accounts.resume(login.token).user_id == user.id
    with services.db.transaction() as s:
        assert s.scalar(select(UserSession.id)) != login.token  # the database never holds the token
    services.accounts.log_out(login.token)
    assert services.accounts.resume(login.token) is None
    assert services.accounts.resume("made-up-token") is None and services.accounts.resume(None) is None


def test_a_password_change_ends_every_other_session(services, fast_bcrypt):
    user = services.accounts.register("a@example.edu", "old-password-1")
    laptop = services.accounts.log_in("a@example.edu", "old-password-1").token
    phone = services.accounts.log_in("a@example.edu", "old-password-1").token
    with pytest.raises(AuthError, match="current password is wrong"):
        services.accounts.change_password(user.actor(), "not-it-1", "new-password-2")
    with pytest.raises(ValidationError):
        services.accounts.change_password(user.actor(), "old-password-1", "short")
    assert services.accounts.resume(laptop) and services.accounts.resume(phone)  # failures change nothing
    fresh = services.accounts.change_password(user.actor(), "old-password-1", "new-password-2")
    assert services.accounts.resume(laptop) is None and services.accounts.resume(phone) is None
    assert services.accounts.resume(fresh).user_id == user.id  # the browser that changed it goes on
    with pytest.raises(AuthError):
        services.accounts.authenticate("a@example.edu", "old-password-1")
    assert services.accounts.authenticate("a@example.edu", "new-password-2").id == user.id


def test_wrong_current_passwords_are_throttled(services, fast_bcrypt):
    user = services.accounts.register("a@example.edu", "old-password-1")
    for _ in range(acc.PASSWORD_CHECK.free + 1):
        with pytest.raises(AuthError, match="current password is wrong"):
            services.accounts.change_password(user.actor(), "guess-password-1", "new-password-2")
    with pytest.raises(TooManyAttempts, match="change your password"):
        services.accounts.change_password(user.actor(), "old-password-1", "new-password-2")


def test_log_out_everywhere_and_an_admins_revocation(services, fast_bcrypt):
    user = services.accounts.register("a@example.edu", "right-password-1")
    admin = services.accounts.register("ops@example.edu", "ops-password-1")
    services.accounts.set_admin(SYSTEM, admin.email)
    tokens = [services.accounts.log_in("a@example.edu", "right-password-1").token for _ in range(3)]
    assert services.accounts.log_out_everywhere(user.actor()) == 3
    assert all(services.accounts.resume(t) is None for t in tokens)
    token = services.accounts.log_in("a@example.edu", "right-password-1").token
    with pytest.raises(PermissionDenied):
        services.accounts.revoke_sessions(user.actor(), "ops@example.edu")  # not an admin
    assert services.accounts.revoke_sessions(admin.actor(), "a@example.edu") == 1
    assert services.accounts.resume(token) is None


def test_an_expired_session_is_over(services, fast_bcrypt):
    services.accounts.register("a@example.edu", "right-password-1")
    token = services.accounts.log_in("a@example.edu", "right-password-1").token
    with services.db.transaction() as s:
        s.execute(update(UserSession).values(expires_at=UserSession.created_at))
    assert services.accounts.resume(token) is None


# ---- administrators ----------------------------------------------------------------------------
def test_registering_never_makes_an_admin_even_for_an_address_in_admin_emails(settings, fast_bcrypt,
                                                                             monkeypatch):
    from core.search.embeddings import FakeEmbedder
    from core.services import build_services

    monkeypatch.setenv("ADMIN_EMAILS", "boss@example.edu")  # what earlier versions read
    svc = build_services(settings, migrate=True, embedder=FakeEmbedder())
    squatter = svc.accounts.register("boss@example.edu", "boss-password-1")
    assert not squatter.is_admin and not svc.accounts.resume(
        svc.accounts.log_in("boss@example.edu", "boss-password-1").token).is_admin
    assert svc.settings.notices() and "grant-admin" in svc.settings.notices()[0]
    svc.db.engine.dispose()


def test_only_the_operator_grants_and_revokes_admin(services, fast_bcrypt):
    user = services.accounts.register("a@example.edu", "right-password-1")
    admin = services.accounts.register("ops@example.edu", "ops-password-1")
    assert services.accounts.set_admin(SYSTEM, admin.email).is_admin
    for actor in (user.actor(), admin.actor()):  # neither a user nor an admin makes admins
        with pytest.raises(PermissionDenied, match="operator"):
            services.accounts.set_admin(actor, "a@example.edu")
    assert not services.accounts.lookup(SYSTEM, "a@example.edu").is_admin
    assert not services.accounts.set_admin(SYSTEM, admin.email, False).is_admin
    with pytest.raises(NotFound):
        services.accounts.set_admin(SYSTEM, "ghost@example.edu")


def test_lookups_are_for_admins(services, fast_bcrypt):
    user = services.accounts.register("a@example.edu", "right-password-1")
    with pytest.raises(PermissionDenied):
        services.accounts.lookup(user.actor(), "a@example.edu")
    with pytest.raises(NotFound):
        services.accounts.lookup(SYSTEM, "ghost@example.edu")


# ---- deleting accounts -------------------------------------------------------------------------
def _classes_of(services):
    with services.db.transaction() as s:
        return {c.name: c.user_id for c in s.scalars(select(Class))}


def test_deleting_my_account_keeps_my_classes_private(services, fast_bcrypt, student):
    prof = services.accounts.register("prof2@example.edu", "prof-password-1")
    co = services.accounts.register("co@example.edu", "co-password-long-1")
    solo = services.classes.create(prof.actor(), "Solo")
    shared = services.classes.create(prof.actor(), "Shared")
    services.classes.add_instructor(prof.actor(), shared.id, co.email)
    services.classes.join(student, solo.join_code)
    token = services.accounts.log_in(prof.email, "prof-password-1").token
    with pytest.raises(AuthError, match="not deleted"):
        services.accounts.delete_account(prof.actor(), "wrong-password-1")
    report = services.accounts.delete_account(prof.actor(), "prof-password-1")
    assert (report.private_to_admins, report.kept_by_others) == (["Solo"], ["Shared"])
    assert services.accounts.resume(token) is None
    assert _classes_of(services) == {"Solo": None, "Shared": co.id}
    # the orphaned class is not open to anyone: not its students, not strangers
    assert [c.name for c in services.classes.list_for(student)] == []
    with pytest.raises(PermissionDenied):
        services.chat.ask(student, solo.id, "anything?")
    assert [c.name for c in services.classes.list_for(SYSTEM)] == ["Solo", "Shared"]


def test_the_operator_deletes_a_user_and_hands_the_classes_over(services, fast_bcrypt):
    prof = services.accounts.register("prof2@example.edu", "prof-password-1")
    heir = services.accounts.register("heir@example.edu", "heir-password-long-1")
    info = services.classes.create(prof.actor(), "Biology")
    with pytest.raises(PermissionDenied):
        services.accounts.delete_user(heir.actor(), prof.email)
    report = services.accounts.delete_user(SYSTEM, prof.email, hand_classes_to=heir.email)
    assert report.handed_over == ["Biology"] and _classes_of(services) == {"Biology": heir.id}
    assert [(c.name, c.role) for c in services.classes.list_for(heir.actor())] == [("Biology", "instructor")]
    with services.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(User).where(User.email == prof.email)) == 0
        assert s.scalar(select(func.count()).select_from(Enrollment).where(Enrollment.class_id == info.id)) == 1


def test_a_deleted_users_actor_has_no_rights_left(services, fast_bcrypt):
    user = services.accounts.register("a@example.edu", "right-password-1")
    info = services.classes.create(user.actor(), "Mine")
    services.accounts.delete_user(SYSTEM, user.email)
    ghost = user.actor()
    for call in (lambda: services.documents.list(ghost, info.id), lambda: services.classes.create(ghost, "X"),
                 lambda: services.chat.ask(ghost, info.id, "q?")):
        with pytest.raises(PermissionDenied, match="Log in"):
            call()
    assert services.classes.list_for(ghost) == []
    assert services.classes.list_for(Actor(user_id=None, email="")) == []


def test_a_guesser_behind_the_owners_school_address_cannot_lock_the_owner_out(services, fast_bcrypt):
    services.accounts.register("a@example.edu", "right-password-1")
    assert services.accounts.authenticate("a@example.edu", "right-password-1", "198.51.100.1")  # the owner
    with services.db.transaction() as s:  # the school's shared address is held back by a guesser
        s.add(ThrottleEntry(scope=acc.LOGIN_ADDRESS.scope, key="198.51.100.1", failures=acc.LOGIN_ADDRESS.free + 5,
                            last_failure_at=utcnow(), blocked_until=utcnow() + timedelta(minutes=10)))
    with pytest.raises(TooManyAttempts):
        services.accounts.authenticate("b@example.edu", "any-password-1", "198.51.100.1")  # others wait
    assert services.accounts.authenticate("a@example.edu", "right-password-1", "198.51.100.1")


def test_accounts_made_from_one_address_are_throttled(services, fast_bcrypt):
    for i in range(acc.REGISTER_ADDRESS.free + 1):
        services.accounts.register(f"user{i}@example.edu", "correct-horse-9", client="203.0.113.77")
    with pytest.raises(TooManyAttempts, match="create accounts"):
        services.accounts.register("one-more@example.edu", "correct-horse-9", client="203.0.113.77")
    assert services.accounts.register("elsewhere@example.edu", "correct-horse-9", client="203.0.113.78")


def test_names_are_one_visible_line_of_bounded_length(services, fast_bcrypt):
    user = services.accounts.register("n@example.edu", "correct-horse-9", "Ada\n\u202eLovelace\x00")
    assert user.name == "Ada Lovelace"
    with pytest.raises(ValidationError, match="at most 100"):
        services.accounts.register("m@example.edu", "correct-horse-9", "x" * 101)


def test_old_throttle_rows_are_purged(services, fast_bcrypt):
    services.accounts.register("a@example.edu", "right-password-1")
    with services.db.transaction() as s:
        s.add(ThrottleEntry(scope="login:address", key="old", failures=3, last_failure_at=utcnow() - timedelta(days=3)))
        s.add(ThrottleEntry(scope="login:address", key="fresh", failures=3, last_failure_at=utcnow()))
    services.accounts.log_in("a@example.edu", "right-password-1")
    with services.db.transaction() as s:
        keys = set(s.scalars(select(ThrottleEntry.key).where(ThrottleEntry.scope == "login:address")))
    assert "fresh" in keys and "old" not in keys


def test_one_guesser_cannot_hold_the_owner_back_from_a_fresh_address(services, fast_bcrypt):
    services.accounts.register("a@example.edu", "right-password-1")
    for _ in range(acc.LOGIN_ACCOUNT.free + 10):  # one address, its delays waited out each time
        _fail(services, "a@example.edu", "203.0.113.9", 1)
        with services.db.transaction() as s:
            s.execute(update(ThrottleEntry).values(blocked_until=None))
    # that address gave the account's own count only its free failures, not forty
    assert services.accounts.throttle.failures((acc.LOGIN_ACCOUNT, "a@example.edu")) == acc.LOGIN_PAIR.free
    # the owner, from an address never used before, is not held back
    assert services.accounts.authenticate("a@example.edu", "right-password-1", "198.51.100.200")
