"""`usabtest users ...`: create and list users, issue API tokens."""

import json

import click
import sqlalchemy as sa

from usabtest.accounts import services
from usabtest.accounts.models import Role, User
from usabtest.core.errors import DomainError
from usabtest.extensions import db


@click.group("users")
def users() -> None:
    """Manage user accounts."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--organisation", help="Client organisation (required for clients).")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Prompted when omitted.",
)
def create(email: str, name: str, role: str, organisation: str | None, password: str) -> None:
    """Create a user."""
    org = services.get_or_create_organisation(organisation) if organisation else None
    try:
        user = services.create_user(
            email=email, name=name, role=role, password=password, organisation=org
        )
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"Created {user.role.value} {user.email}.", err=True)


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_users(as_json: bool) -> None:
    """List users: email, name, role, active."""
    rows = [
        {"email": u.email, "name": u.name, "role": u.role.value, "active": u.active}
        for u in db.session.scalars(sa.select(User).order_by(User.email))
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        state = "active" if row["active"] else "inactive"
        click.echo(f"{row['email']:<40} {row['name']:<30} {row['role']:<11} {state}")


@users.command("token")
@click.argument("email")
@click.option("--label", default="cli", help="What the token is for.")
def token(email: str, label: str) -> None:
    """Print a new personal API token for EMAIL, alone on standard output."""
    user = services.find_user_by_email(email)
    if user is None:
        raise click.ClickException(f"No user with email {email}.")
    if not user.active:
        raise click.ClickException(f"{email} is deactivated.")
    value = services.issue_token(user, label)
    db.session.commit()
    click.echo(value)
