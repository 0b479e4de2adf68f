#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    """Run administrative tasks; a database that cannot be reached is one clear line, not a traceback."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line
    from django.db import OperationalError

    try:
        execute_from_command_line(sys.argv)
    except OperationalError as exc:
        sys.exit(database_unavailable(exc))


def database_unavailable(exc: Exception) -> str:
    """Say which database could not be reached and, when it does not exist, how to create it."""
    from django.db import connection

    db = connection.settings_dict
    reason = (str(exc).strip().splitlines() or ["unknown error"])[-1].strip()
    message = f"Cannot use the {connection.vendor} database {db['NAME']!s}: {reason}"
    if connection.vendor == "postgresql" and "does not exist" in reason:
        message += (
            f". Create it with: createdb -h {db['HOST'] or 'localhost'} -p {db['PORT'] or 5432} "
            f"-U {db['USER'] or 'postgres'} {db['NAME']}"
        )
    return message + " (or unset DB_NAME and DATABASE_URL to use SQLite)."


if __name__ == "__main__":
    main()
