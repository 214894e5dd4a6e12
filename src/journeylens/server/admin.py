"""Administration over HTTP: ``DELETE /v1/users/{user_id}`` forgets a person (admin token only).

The answer (200, the forget report) is sent only after the deletion, the suppression list and
the audit row committed. An unknown user id is not an error: it is suppressed all the same, so a
request is idempotent and says, with ``found: false``, that nothing was stored (docs/privacy.md).
The collector's write-ahead log is loaded first, so nothing acknowledged escapes the deletion.
The deletion holds the runner's lock as a writer: the embedded store serves one statement at a
time, and no analysis may read a half-forgotten person (requests meanwhile get the answers cached
before it, and none after it).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI
from fastapi.concurrency import run_in_threadpool

from journeylens.server.app import ServerContext
from journeylens.server.auth import require
from journeylens.server.keys import Credential
from journeylens.server.problems import PROBLEM_JSON

__all__ = ["install"]


def install(app: FastAPI, ctx: ServerContext) -> None:
    """Add the admin routes."""

    @app.delete(
        "/v1/users/{user_id}",
        tags=["admin"],
        summary="Forget a person: delete their rows everywhere and suppress their identifiers.",
        responses={
            status: {"description": text, "content": {PROBLEM_JSON: {"schema": {"type": "object"}}}}
            for status, text in (
                (401, "No credential, or an unknown or revoked one."),
                (403, "The credential is not an admin token."),
                (429, "Too many failed authentication attempts."),
            )
        },
    )
    async def forget_user(
        user_id: str, credential: Annotated[Credential, Depends(require("admin"))]
    ) -> dict[str, Any]:
        collector = getattr(app.state, "collector", None)
        return await run_in_threadpool(_forget, ctx, user_id, f"key:{credential.key_id}", collector)


def _forget(ctx: ServerContext, user_id: str, requested_by: str, collector: Any) -> dict[str, Any]:
    from journeylens.privacy import forget

    if collector is not None:
        # What the collector acknowledged is stored first, so the deletion reaches it and its
        # write-ahead log segments are truncated; later messages naming the person meet the
        # suppression list when they are loaded.
        collector.drain()
    with ctx.runner.writing("forget"):
        return forget(ctx.workspace, user_id, requested_by=requested_by).to_dict()
