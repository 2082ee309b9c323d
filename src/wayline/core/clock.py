"""Time and identifiers in the forms Open WebUI uses on the wire (epoch seconds, uuid4 strings)."""

import time
import uuid


def now() -> int:
    return int(time.time())


def new_id() -> str:
    return str(uuid.uuid4())
