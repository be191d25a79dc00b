"""API models of the accounts domain: who is signed in, people as other objects name them, and client
organisations."""

from __future__ import annotations

from pydantic import Field

from usabtest.accounts.models import Organisation, Role, User
from usabtest.core.schemas import InputModel, OutputModel, Page, PageQuery, UtcDateTime, text


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


OrganisationName = text(200, min_length=1)
SearchText = text(200)


class OrganisationRef(OutputModel):
    """A client organisation as a study names it."""

    id: int
    name: str


class ClientOrganisation(OutputModel):
    """A client organisation: its client users download the published reports of its studies."""

    id: int
    name: str
    created_at: UtcDateTime

    @classmethod
    def of(cls, org: Organisation) -> ClientOrganisation:
        """`org` for the API."""
        return cls(id=org.id, name=org.name, created_at=org.created_at)


class ClientOrganisationPage(Page[ClientOrganisation]):
    """A page of client organisations."""


class ClientOrganisationQuery(PageQuery):
    """`?q=` finds organisations whose name contains it, ignoring case and spaces."""

    q: SearchText = Field("", description="Part of the name (case and spaces ignored)")


class ClientOrganisationCreate(InputModel):
    """A new client organisation; a name matching an existing one (ignoring case and spaces) is refused."""

    name: OrganisationName

