"""`usabtest report ...`: build and publish reports from the command line."""

import click


@click.group("report")
def report() -> None:
    """Build and publish study reports."""
