"""``python -m gradcli``."""

from .main import run

run()
