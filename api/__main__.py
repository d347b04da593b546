"""`python -m api ...`: the command line (see api/cli.py)."""

from api.cli import app

app(prog_name="python -m api")
