"""The WSGI entry point for gunicorn: ``gunicorn wsgi:app``."""

from wxserver import create_app

app = create_app()
