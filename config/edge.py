"""ASGI entry point of the redirect edge (granian or uvicorn `config.edge:application`): cached
redirects answered asynchronously, everything else by config.wsgi's application in a thread
(shortener/edge.py). Pages and the API are served by gunicorn (`config.wsgi`) beside it."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
get_wsgi_application()  # django.setup(), as config.wsgi does

from config.wsgi import application as wsgi_application  # noqa: E402
from shortener.edge import RedirectEdge  # noqa: E402

application = RedirectEdge(wsgi_application)
