"""Allow ``python -m <package>`` as well as the installed command."""

from .cli import app

app(prog_name=__package__)
