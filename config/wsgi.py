"""WSGI entry point: `gunicorn config.wsgi:application`."""

import gc
import os
from importlib import import_module

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()
import_module(settings.ROOT_URLCONF)  # the URLconf and every view now, rather than at the first request

# What is loaded now (Django, DRF, every view, boto3, Celery, Pillow: over a hundred thousand objects) lives
# as long as the process. Frozen, it is left out of the collector's full passes, which otherwise walk all of
# it every few dozen requests (about 2 ms of CPU per request on average, bench/direct_upload_cpu.py).
# Python's docs, gc.freeze().
gc.freeze()
