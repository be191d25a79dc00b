"""The `usabtest` console script: Flask's CLI bound to the app factory (no --app needed)."""

from flask.cli import FlaskGroup

from usabtest.app import create_app


def _factory():
    return create_app()


main = FlaskGroup(
    create_app=_factory,
    help="usabtest: plan, observe, analyse and report usability tests.",
)

if __name__ == "__main__":  # pragma: no cover
    main()
