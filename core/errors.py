"""Domain errors: every message here is written for the person who caused it."""


class ClassGPTError(Exception):
    """Base of every error the app shows to a user (never a traceback)."""


class ValidationError(ClassGPTError):
    """Input that is wrong in a way the user can fix."""


class AuthError(ClassGPTError):
    """Wrong email or password, or a locked account."""


class TooManyAttempts(AuthError):
    """Too many failures in a row: the next attempt must wait (retry_after seconds)."""

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after


class PermissionDenied(ClassGPTError):
    """The acting user may not do this."""


class NotFound(ClassGPTError):
    """The thing asked for does not exist (or is not visible to the user)."""


class Conflict(ClassGPTError):
    """The thing would duplicate something that exists (e.g. an email)."""


class IngestError(ClassGPTError):
    """A file could not be turned into text; nothing of it was stored."""


class EmptyFile(IngestError):
    pass


class UnsupportedType(IngestError):
    pass


class FileTooLarge(IngestError):
    pass


class EncryptedPDF(IngestError):
    pass


class CorruptPDF(IngestError):
    pass


class NoExtractableText(IngestError):
    pass


class StorageUnavailable(ClassGPTError):
    """The file store could not be reached or refused the request."""


class ConfigError(ClassGPTError):
    """A setting is missing or unsafe for the environment it runs in."""


class SchemaNotCurrent(ClassGPTError):
    """The database's schema is not the one this code was written for: `python -m core migrate`."""
