"""`usabtest worker`: deliver the outbox's mail with retries (production runs one or more)."""

import click
from flask import current_app

from usabtest.core import mail


@click.command("worker")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option("--poll", type=click.FloatRange(min=0.1), default=None,
              help="Seconds between looks at the outbox (default: MAIL_WORKER_POLL_SECONDS).")
def worker_command(once: bool, poll: float | None) -> None:
    """Deliver queued mail: claims due messages, sends them, retries failures with back-off.

    Several workers may run at once (each message is claimed by one); a worker that dies leaves
    its claims to expire, and the next run sends those messages.
    """
    app = current_app._get_current_object()
    if not mail.mail_configured(app):
        raise click.ClickException("mail is not configured: set USABTEST_MAIL_SERVER")
    interval = poll if poll is not None else float(app.config["MAIL_WORKER_POLL_SECONDS"])
    if not once:
        click.echo(f"Delivering mail every {interval:g} s as {mail.worker_name()} (Ctrl+C to stop).")
    mail.run_worker(app, poll=interval, once=once)
