"""WSGI entry point: `gunicorn config.wsgi:application`.

Django's application, inside AfterResponse: what a request defers (config.background.after_response, e.g.
account mail) runs once its answer has been sent.
"""

import gc
import os
from importlib import import_module

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from config.background import AfterResponse

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = AfterResponse(get_wsgi_application())
import_module(settings.ROOT_URLCONF)  # the URLconf and every view now, rather than at the first request

# What is loaded now (Django, DRF, every view, boto3, Celery, Pillow: over a hundred thousand objects) lives
# as long as the process. Frozen, it is left out of the collector's full passes, which otherwise walk all of
# it every few dozen requests (about 2 ms of CPU per request on average, bench/direct_upload_cpu.py).
# Python's docs, gc.freeze().
gc.freeze()
