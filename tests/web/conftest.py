"""The nginx tests' stack: a real gunicorn (``backend``), a real nginx in front of it (``edge``).

Both live for one test module: gunicorn runs a single worker, so what one module does to it does
not show in another's timings.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.nginx_server import Nginx, nginx
from tests.servers import Server, gunicorn
from tests.web.nginx_stack import ENV, address


@pytest.fixture(scope="module")
def backend() -> Iterator[Server]:
    with gunicorn(ENV, workers=1) as running:
        yield running


@pytest.fixture(scope="module")
def edge(backend: Server) -> Iterator[Nginx]:
    with nginx(address(backend)) as running:
        yield running
