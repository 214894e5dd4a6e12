"""The HTTP server (``journeylens serve``): one FastAPI app for the Segment-compatible collector,
the REST API and the dashboard.

:mod:`.app` builds the app, :mod:`.keys` keeps write keys and read/admin tokens (hashes only),
:mod:`.auth` turns a request's credential into scopes, :mod:`.problems` translates every error into
RFC 9457 problem details in one place.
"""
