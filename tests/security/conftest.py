"""The HTTP-level security tests use the API fixtures (fresh database, fake crew, account factory)."""

from tests.api.conftest import client_for, make_account, password_hash, settings

__all__ = ["client_for", "make_account", "password_hash", "settings"]
