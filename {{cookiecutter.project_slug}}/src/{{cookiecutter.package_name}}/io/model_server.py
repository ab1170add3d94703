"""The prediction server's admin API as a client sees it: tell a running server to reload.

Standard library HTTP only: the jobs that call it (promotion) need no web client dependency.
"""

import json
import urllib.error
import urllib.request


class ReloadError(RuntimeError):
    """The server did not confirm the reload; the message says what it answered, if anything."""


def reload(url: str, token: str | None, alias: str, timeout: float) -> dict:
    """POST {url}/admin/reload for ``alias``; the server's answer (name, version, ...).

    The server loads and self-checks the model before it swaps, so a success means it now
    serves the version behind the alias; a refusal leaves it serving the old one.
    """
    if not url.startswith(("http://", "https://")):
        raise ReloadError(f"serve_url {url!r} is not an http(s) URL")
    if not token:
        raise ReloadError("no admin token: set serve_admin_token (the server's, too)")
    # S310 waived below: the scheme is checked above (urllib also opens file:// and ftp://).
    request = urllib.request.Request(  # noqa: S310
        f"{url.rstrip('/')}/admin/reload",
        data=json.dumps({"alias": alias}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            return json.loads(answer.read())
    except urllib.error.HTTPError as error:
        raise ReloadError(f"{url} answered {error.code}: {_message(error.read())}") from None
    except (urllib.error.URLError, OSError) as error:  # refused, unreachable, timed out
        reason = getattr(error, "reason", error)
        raise ReloadError(f"cannot reach {url}: {reason}") from None


def _message(body: bytes) -> str:
    """The server's error message ({"error": {"message": ...}}), else the raw body, shortened."""
    try:
        return str(json.loads(body)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return body.decode(errors="replace")[:300]
