"""Forge clients: GitHub (REST, and GraphQL for auto-merge) and GitLab (REST v4), over one
HTTP client (``http``) that retries and honours ``Retry-After``. ``promotion.forge`` is
the front the rest of gitreg calls; it picks the client."""
