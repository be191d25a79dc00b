"""The `usabtest` console script: Flask's CLI bound to the app factory (no --app needed).

Listing the commands (`usabtest --help`) must not build the app nor import the domains: the group
knows its commands' names and help lines; running one builds the app, which registers them all.
"""

from __future__ import annotations

import functools
import gc
from importlib import import_module
from importlib.metadata import EntryPoint, entry_points

import click
from flask.cli import FlaskGroup

# The project's own commands: where each lives, and its line in `usabtest --help` (click would
# import a command to read its docstring).
COMMANDS = {
    "users": ("usabtest.accounts.cli:users", "Manage user accounts."),
    "demo": ("usabtest.demo:demo_command", "Load demo data (once) and print the demo sign-ins."),
    "report": ("usabtest.reports.cli:report", "Build and publish study reports."),
    "worker": ("usabtest.core.worker:worker_command",
               "Deliver queued mail with retries (run one or more in production)."),
    "export": ("usabtest.core.backup_cli:export_command",
               "Write all data (reports and screenshots included) into one archive."),
    "import": ("usabtest.core.backup_cli:import_command", "Load an archive into an empty database."),
    "purge-deleted": ("usabtest.analysis.cli:purge_deleted_command",
                      "Delete for good what has been in Recently deleted for 30 days (run daily)."),
}
# Extensions' commands named here, so that neither listing nor running another command imports them
# (Flask-Migrate's `db` brings Alembic) and the app need not be built to find them.
EXTENSION_COMMANDS = {
    "db": ("flask_migrate.cli:db", "Create and upgrade the database schema (Alembic migrations)."),
}


def _factory():
    from usabtest.app import create_app

    return create_app()


def load_command(target: str) -> click.Command:
    """The command at `module:attribute`."""
    module, _, attribute = target.partition(":")
    return getattr(import_module(module), attribute)


class LazyFlaskGroup(FlaskGroup):
    """A FlaskGroup that names its commands without importing them or building the app."""

    @functools.cached_property
    def _plugins(self) -> dict[str, EntryPoint]:
        """Extensions' commands (Flask-Limiter's `limiter`), from the `flask.commands` entry points:
        looked up only when a name is not the project's, since reading every installed package's
        entry points takes a twentieth of a second."""
        return {ep.name: ep for ep in entry_points(group="flask.commands")}

    def _load_plugin_commands(self) -> None:
        """Flask imports every extension's commands before running any command; here only the one
        asked for is imported (`get_command`): Flask-Migrate's `db` brings Alembic with it."""

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands:
            if name in EXTENSION_COMMANDS:
                self.add_command(load_command(EXTENSION_COMMANDS[name][0]), name)
            elif name not in COMMANDS and name in self._plugins:
                self.add_command(self._plugins[name].load(), name)
        return super().get_command(ctx, name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command name, found without importing any of them."""
        return sorted({*click.Group.list_commands(self, ctx), *COMMANDS, *EXTENSION_COMMANDS, *self._plugins})

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list, with help lines known without importing the commands."""
        rows = []
        for name in self.list_commands(ctx):
            if known := COMMANDS.get(name) or EXTENSION_COMMANDS.get(name):
                rows.append((name, known[1]))
            elif name in self._plugins and name not in self.commands:
                package = self._plugins[name].dist.name if self._plugins[name].dist else "an extension"
                rows.append((name, f"Commands from {package} (usabtest {name} --help)."))
            elif (command := click.Group.get_command(self, ctx, name)) is not None:
                rows.append((name, command.get_short_help_str(formatter.width)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


main = LazyFlaskGroup(
    create_app=_factory,
    help="usabtest: plan, observe, analyse and report usability tests.",
)


def run() -> None:
    """The console script: `main`, leaving the collector out of the interpreter's exit.

    On the way out the interpreter's collector walks every object the app made once more: 0.2-0.35
    s of the 1.5 s a command such as `usabtest report build` takes. Frozen, they are simply left to
    the process's end; objects are still finalised when their last reference goes.
    """
    try:
        main()
    finally:
        gc.freeze()


if __name__ == "__main__":  # pragma: no cover
    run()
