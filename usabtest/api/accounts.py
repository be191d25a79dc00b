"""API of the accounts domain: who the request is authenticated as, CSRF tokens for browsers, and
client organisations (those the caller may see under `policy.organisations_visible_to`)."""

from __future__ import annotations

from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from usabtest import policy
from usabtest.accounts import services
from usabtest.accounts.models import Organisation, organisation_key
from usabtest.accounts.schemas import (
    ClientOrganisation,
    ClientOrganisationCreate,
    ClientOrganisationPage,
    ClientOrganisationQuery,
    CsrfToken,
    Me,
)
from usabtest.api import bp, load, loads, page_of, permits, reads, spec, writes


@bp.get("/me")
@spec.validate(resp=reads(Me), tags=["accounts"])
def me():
    """The authenticated user (handy to check a token)."""
    return Me.of(current_user)


@bp.get("/csrf")
@spec.validate(resp=reads(CsrfToken), tags=["accounts"])
def csrf_token():
    """A fresh CSRF token for cookie-authenticated writes (a 401 tells a page its sign-in expired)."""
    return CsrfToken(csrf_token=generate_csrf())


ORGANISATIONS = ["organisations"]


@bp.get("/organisations")
@spec.validate(query=ClientOrganisationQuery, resp=reads(ClientOrganisationPage), tags=ORGANISATIONS)
def list_organisations(query: ClientOrganisationQuery):
    """Client organisations the caller may see (admins: all; researchers: those of their studies and
    those they created; a client user: their own), by name."""
    visible = policy.organisations_visible_to(current_user)
    if query.q.strip():
        visible = visible.where(Organisation.name_key.contains(organisation_key(query.q), autoescape=True))
    return ClientOrganisationPage(**page_of(visible.order_by(Organisation.name_key), query,
                                            ClientOrganisation.of))


@bp.post("/organisations")
@permits(policy.can_create_organisation, "only researchers and admins create organisations")
@spec.validate(json=ClientOrganisationCreate, resp=writes({201: ClientOrganisation}, 403, 409),
               tags=ORGANISATIONS)
def create_organisation(json: ClientOrganisationCreate):
    """Create a client organisation (researchers and admins). A name that matches an existing
    organisation's ignoring case and spaces is refused with 409, naming it (and its id when you may
    see it)."""
    try:
        org = services.create_organisation(json.name, current_user)
    except services.DuplicateOrganisation as exc:
        if policy.can_see_organisation(current_user, exc.existing):
            exc.message = f"{exc.message[:-1]} (id {exc.existing.id}): use it instead."
        else:
            exc.message += " You are not on any of its studies: ask an administrator."
        exc.fields = {"name": exc.message}
        raise
    return ClientOrganisation.of(org), 201


def visible_organisation(org_id: int) -> Organisation:
    """The organisation, 404 when hidden from the caller."""
    return load(Organisation, org_id, policy.can_see_organisation, "organisation")


@bp.get("/organisations/<int:org_id>")
@loads("org_id", visible_organisation, "org")
@spec.validate(resp=reads(ClientOrganisation, 404), tags=ORGANISATIONS)
def get_organisation(org: Organisation):
    """One client organisation you may see."""
    return ClientOrganisation.of(org)
