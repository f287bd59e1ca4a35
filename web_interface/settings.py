"""The web interface's own settings: only what the Streamlit app and `support-desk ui` need.

The web interface is an HTTP client of the API and imports nothing from `api/`, `desk/` or `crew/`, so it
can be deployed on its own. The names are the same environment variables (and `.env` entries) the desk
reads (`API_BASE_URL`, `WEB_CLIENT_USERNAME`, `MAX_MESSAGE_LENGTH`, ...), so one `.env` configures both.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Where the API listens and how long a call may take (a crew run can take a while on a real model).
    api_base_url: str = "http://127.0.0.1:8000"
    api_timeout_seconds: float = Field(default=120.0, gt=0)
    # The address and port Streamlit listens on (loopback by default, like the API), and the address people
    # browse to (printed by Streamlit, used in links).
    web_host: str = "127.0.0.1"
    web_port: int = 8501
    public_base_url: str = "http://localhost:8501"
    # The integrator account guests act through; empty = guests must sign in.
    web_client_username: str = ""
    web_client_password: SecretStr = SecretStr("")
    # The form's character limit; keep it equal to the API's MAX_MESSAGE_LENGTH (same variable).
    max_message_length: int = Field(default=4000, ge=1)
    # How long a browser's session key (the `s` in the URL) keeps it signed in across reloads; a signed-in
    # session also ends when its API token expires. Guests keep their guest identity this long.
    web_session_ttl_seconds: int = Field(default=8 * 3600, ge=60)


@lru_cache(maxsize=1)
def get_settings() -> WebSettings:
    """The process-wide web settings, read once. Tests build their own `WebSettings(...)` instead."""
    return WebSettings()
