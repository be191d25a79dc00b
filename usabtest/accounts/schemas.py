"""API models of the accounts domain: who is signed in, and people as other objects name them."""

from __future__ import annotations

from pydantic import Field

from usabtest.accounts.models import Role, User
from usabtest.core.schemas import OutputModel


class UserRef(OutputModel):
    """A person named by another object (owner, moderator, observer, author)."""

    id: int
    name: str


class Me(OutputModel):
    """The authenticated user."""

    id: int
    email: str
    name: str
    role: Role
    timezone: str = Field(description="IANA zone the user sees times in")
    organisation: str | None = Field(description="Client organisation of a client user")

    @classmethod
    def of(cls, user: User) -> Me:
        """The signed-in user as the API shows them."""
        return cls(id=user.id, email=user.email, name=user.name, role=user.role, timezone=user.timezone,
                   organisation=user.organisation.name if user.organisation else None)


class CsrfToken(OutputModel):
    """A token for the `X-CSRFToken` header of cookie-authenticated writes."""

    csrf_token: str
