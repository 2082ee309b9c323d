"""The web UI's browser fixtures (tests/e2e/web_browser.py), for every journey in this folder."""

from tests.e2e.web_browser import chromium, new_page, page, web_server  # noqa: F401
