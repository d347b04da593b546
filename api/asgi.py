"""The ASGI application for uvicorn: `uvicorn api.asgi:app` (what `python -m api serve` runs)."""

from api.main import create_app
from api.observability import configure_logging
from api.settings import get_settings

# Each worker process configures its own logging: JSON lines in production, text otherwise.
configure_logging(get_settings())
app = create_app()
