"""usabtest: self-hosted usability testing for research teams."""

from usabtest.app import create_app

__version__ = "0.1.0"
__all__ = ["create_app", "__version__"]
