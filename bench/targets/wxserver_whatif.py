"""wxserver's app with the changes named in ``BENCH_WHATIF`` applied at run time (see bench.whatif).

Serves the same ``wsgi:app`` the benchmark measures, so that a saving counted in instructions can
also be seen over HTTP: ``BENCH_WHATIF=all`` or ``direct-body-read,lean-logging``.
"""

from __future__ import annotations

import os

from bench.whatif import EXPERIMENTS
from wxserver import create_app

app = create_app()
for _name in filter(None, os.environ.get("BENCH_WHATIF", "").split(",")):
    EXPERIMENTS[_name](app)
