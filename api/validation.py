"""Bounds and checks shared by the routes' path, query and form parameters.

They refuse, as a 422 naming the field, what would otherwise fail only in the database (a 500):

- a NUL character in a string: PostgreSQL text cannot hold one, and nothing the desk names (case ids,
  usernames, event names) contains one;
- an offset past any page anyone reads: 2**63 overflows SQLite's and PostgreSQL's 64-bit integers.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Path, Query
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import AfterValidator

# Ten million rows to skip is far past any list the desk keeps, and far inside every integer type.
MAX_OFFSET = 10_000_000


def reject_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


NoNulStr = Annotated[str, AfterValidator(reject_nul)]
CaseIdPath = Annotated[NoNulStr, Path(description="The case id")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip")]


class PasswordForm(OAuth2PasswordRequestForm):
    """The OAuth2 password form, with a NUL character refused in the username (audited, looked up) and the
    password (no account can have one). The other fields are as FastAPI defines them."""

    def __init__(
        self,
        *,
        grant_type: Annotated[str | None, Form(pattern="^password$")] = None,
        username: Annotated[NoNulStr, Form()],
        password: Annotated[NoNulStr, Form(json_schema_extra={"format": "password"})],
        scope: Annotated[str, Form()] = "",
        client_id: Annotated[str | None, Form()] = None,
        client_secret: Annotated[str | None, Form(json_schema_extra={"format": "password"})] = None,
    ) -> None:
        super().__init__(
            grant_type=grant_type,
            username=username,
            password=password,
            scope=scope,
            client_id=client_id,
            client_secret=client_secret,
        )
