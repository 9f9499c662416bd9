"""gunicorn's settings for this checkout: the ones shipped inside the package.

``gunicorn -c config/gunicorn.conf.py wsgi:app`` is the same as the Procfile's
``gunicorn -c python:wxserver.web.gunicorn_conf wsgi:app``, which works from any directory once
wxserver is installed. Change the settings in wxserver/web/gunicorn_conf.py.
"""

from wxserver.web.gunicorn_conf import *  # noqa: F403
