"""One pure ASGI middleware for what every request needs: an id, a body size limit, metrics.

Pure ASGI (not BaseHTTPMiddleware): it adds microseconds, not a task per request.
"""

import re
import time
import uuid

from .errors import ApiError

REQUEST_ID_HEADER = b"x-request-id"
#: A caller's own request id is kept when it looks like one (no header injection).
_SAFE_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,64}$")


class BodyTooLargeError(ApiError):
    def __init__(self, limit: int):
        super().__init__(413, "payload_too_large", f"the body exceeds {limit:,} bytes")


class RequestContext:
    def __init__(self, app, metrics, max_body_bytes: int):
        self.app, self.metrics, self.max_body_bytes = app, metrics, max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope["headers"])
        given = headers.get(REQUEST_ID_HEADER, b"")
        request_id = given.decode() if _SAFE_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500

        async def send_with_id(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (REQUEST_ID_HEADER, request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, self._limited(receive, headers), send_with_id)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.observe(route, scope["method"], status, time.perf_counter() - started)

    def _limited(self, receive, headers: dict):
        """``receive`` that refuses a body over the limit, declared or streamed."""
        limit = self.max_body_bytes
        declared = headers.get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > limit:

            async def refuse():
                raise BodyTooLargeError(limit)

            return refuse
        seen = 0

        async def counting():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLargeError(limit)
            return message

        return counting
