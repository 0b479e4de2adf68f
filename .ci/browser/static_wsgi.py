"""The API's WSGI application, serving its static files too (the admin's CSS and JS, the vendored Uppy) as
`runserver` does, so that the browser tests need no nginx in front of gunicorn."""

from django.contrib.staticfiles.handlers import StaticFilesHandler

from config.wsgi import application as api

application = StaticFilesHandler(api)
