"""Who holds an ingestion job: claim tokens that tell a dead local process from a live one."""

from __future__ import annotations

import os
import socket

from wayline.core.clock import new_id

_PROCESS = new_id()[:8]  # tells this process apart from an earlier one that had the same pid
_HOST = socket.gethostname()[:16]


def claim_token() -> str:
    """`{runner}:{process}:{pid}:{host}` (≤ 36 chars): lets a restarted server on the same host see
    at once that a `processing` claim belongs to a process that no longer exists."""
    return f"{new_id()[:4]}:{_PROCESS}:{os.getpid()}:{_HOST}"[:36]


def is_dead_local_claim(token: str) -> bool:
    try:
        _, process, pid, host = token.split(":", 3)
        pid_number = int(pid)
    except ValueError:
        return False
    if host != _HOST or process == _PROCESS:
        return False  # another machine (only staleness tells), or this very process
    if pid_number == os.getpid():
        return True  # our pid, but another process token: the earlier process is gone
    try:
        os.kill(pid_number, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False
