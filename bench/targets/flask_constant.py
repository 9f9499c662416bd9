"""What Flask costs anyway: one view that reads the body and returns a constant."""

from __future__ import annotations

from flask import Flask, request

from bench.targets.credentials import PATH

app = Flask(__name__)


@app.route(PATH, methods=["GET", "POST"])
def constant() -> str:
    """Read the body and answer ``success``."""
    request.get_data()
    return "success"
