"""The web UI: server-rendered pages (Jinja2) over the same JSON API the clients use.

The browser changes things through the JSON API (fetch or htmx with the `token` cookie); the
pages only read, through the domains' services, to render. htmx and Alpine.js (its CSP build)
are vendored in `static/vendor` (`static/VENDORED.md`), so nothing is fetched at run time and the
pages' Content-Security-Policy allows no inline script and no other host.
"""
