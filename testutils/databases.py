"""Databases for processes of their own: the test database as a URL, and scratch PostgreSQL databases for benches."""

import psycopg

# The machine's PostgreSQL, as the benches use it (trust authentication, the postgres role).
POSTGRES_SERVER = "postgres://postgres@127.0.0.1:5432"


def current_database_url() -> str:
    """The database Django uses now (the test database) as a URL a separate process can open."""
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    host, port = db["HOST"] or "localhost", db["PORT"] or 5432
    return f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{host}:{port}/{db['NAME']}"


def postgres_database(name: str, server: str = POSTGRES_SERVER) -> str:
    """Create an empty database on the machine's PostgreSQL (dropping one of that name first); return its URL."""
    postgres_drop(name, server)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


def postgres_drop(name: str, server: str = POSTGRES_SERVER) -> None:
    """Drop a database made by postgres_database, whoever is still connected to it."""
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
