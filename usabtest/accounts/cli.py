"""`usabtest users ...`: create and list users; issue, list and revoke API tokens."""

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


def _user(email: str) -> User:
    user = services.find_user_by_email(email)
    if user is None:
        raise click.ClickException(f"No user with email {email}.")
    return user


@users.command("token")
@click.argument("email")
@click.option("--label", "--name", "label", default="cli", help="What the token is for.")
@click.option("--expires-days", type=click.IntRange(1, 3650), help="Stop working after this many days.")
def token(email: str, label: str, expires_days: int | None) -> None:
    """Print a new personal API token for EMAIL, alone on standard output."""
    user = _user(email)
    if not user.active:
        raise click.ClickException(f"{email} is deactivated.")
    try:
        value = services.issue_token(user, label, expires_in_days=expires_days)
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(value)


def _when(value) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


@users.command("tokens")
@click.argument("email")
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked tokens.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def tokens(email: str, include_revoked: bool, as_json: bool) -> None:
    """List EMAIL's API tokens: id, name, state, created, last used, expiry (times in UTC)."""
    rows = [{"id": t.id, "name": t.label, "state": t.state, "created_at": _when(t.created_at),
             "last_used_at": _when(t.last_used_at), "expires_at": _when(t.expires_at),
             "revoked_at": _when(t.revoked_at)}
            for t in services.tokens_of(_user(email), include_revoked=include_revoked)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(f"{email} has no API tokens.", err=True)
    for row in rows:
        click.echo(f"{row['id']:>6}  {row['name'] or '(unnamed)':<30} {row['state']:<8} "
                   f"created {row['created_at']}  last used {row['last_used_at'] or 'never'}  "
                   f"expires {row['expires_at'] or 'never'}")


@users.command("revoke-token")
@click.argument("email")
@click.argument("token_ids", nargs=-1, type=click.IntRange(1))
@click.option("--all", "revoke_all", is_flag=True, help="Revoke every token of EMAIL.")
def revoke_token(email: str, token_ids: tuple[int, ...], revoke_all: bool) -> None:
    """Revoke EMAIL's tokens with the ids given (see `usabtest users tokens EMAIL`), or --all of them."""
    if bool(token_ids) == revoke_all:
        raise click.UsageError("Give token ids, or --all (not both).")
    user = _user(email)
    if revoke_all:
        count = services.revoke_all_tokens(user, None, "revoked from the command line")
        db.session.commit()
        click.echo(f"Revoked {count} token{'s' if count != 1 else ''} of {user.email}.", err=True)
        return
    try:
        found = [services.find_token(user, token_id) for token_id in token_ids]
    except DomainError as exc:
        raise click.ClickException(str(exc)) from exc
    for api_token in found:
        revoked = services.revoke_token(api_token, None)
        click.echo(f"Token {api_token.id} ({api_token.label or 'unnamed'}) "
                   f"{'revoked' if revoked else 'was already revoked'}.", err=True)
    db.session.commit()
