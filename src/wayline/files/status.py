"""A file's processing status (the `file.status` column), for this domain and the ones that read it.

"" (`STORED`) is a file uploaded with process=false: stored only, shown as "pending" like Open
WebUI, and never picked up by a worker until it is submitted again.
"""

from __future__ import annotations

STORED, PENDING, PROCESSING, COMPLETED, FAILED = "", "pending", "processing", "completed", "failed"

# What may be submitted for processing again: never processed, or processing failed.
UNPROCESSED = (STORED, FAILED)
