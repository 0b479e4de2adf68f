"""What each dependency raises when it is down: the errors that become a JSON 503, never a 500.

Kept apart from config.exceptions (which imports DRF's views) so that modules DRF loads from its
settings, such as the throttle, can use them without an import cycle.
"""

from botocore.exceptions import BotoCoreError, ClientError
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerOperationalError
from redis.exceptions import RedisError

# What boto3 raises when the store is down, refuses the credentials or lacks the bucket.
STORAGE_ERRORS = (BotoCoreError, ClientError)
# What Django raises when the database cannot be reached or drops the connection (not a bad query).
DATABASE_ERRORS = (OperationalError, InterfaceError)
# What Django's Redis cache raises when Redis cannot be reached.
CACHE_ERRORS = (RedisError,)
# What Celery raises when a task cannot be published.
BROKER_ERRORS = (BrokerOperationalError,)
