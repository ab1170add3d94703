"""Keys and tokens never reach a log or an answer: real uvicorn in this process, access log on,
so every record any logger writes (the server's, uvicorn's, MLflow's) is checked."""

import http.client
import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr

from {{ cookiecutter.package_name }}.serving.app import create_app

pytestmark = pytest.mark.integration

#: The server starts, then loads the model in the background: seconds here, a minute or more on
#: a machine busy with other suites. The bound only turns a hang into a failure.
START_SECONDS = 600


def call(port: int, method: str, path: str, body, headers: dict) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        headers = {"Content-Type": "application/json", **headers}
        connection.request(method, path, json.dumps(body), headers)
        answer = connection.getresponse()
        return answer.status, answer.read().decode()
    finally:
        connection.close()


@contextmanager
def in_process(app: FastAPI) -> Iterator[int]:
    """uvicorn in a thread on a free port, access log on; yields the port once it is ready."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=True)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_SECONDS
        while not server.started:
            assert time.monotonic() < deadline, f"uvicorn not started in {START_SECONDS} s"
            time.sleep(0.25)
        port = server.servers[0].sockets[0].getsockname()[1]
        while call(port, "GET", "/ready", None, {})[0] != 200:
            assert time.monotonic() < deadline, f"not ready in {START_SECONDS} s"
            time.sleep(0.25)
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_keys_and_tokens_never_reach_a_log_or_an_answer(registry, records, caplog):
    key, token, guess = "key-never-logged", "token-never-logged", "guess-never-logged"
    guarded = {"serve_api_key": SecretStr(key), "serve_admin_token": SecretStr(token)}
    admin, intruder = ({"Authorization": f"Bearer {value}"} for value in (token, guess))
    caplog.set_level(logging.DEBUG)

    with in_process(create_app(registry.model_copy(update=guarded))) as port:
        answers = [
            call(port, "POST", "/predict", records[0], {"X-API-Key": key}),
            call(port, "POST", "/predict", records[0], {"X-API-Key": guess}),
            call(port, "POST", "/admin/reload", {"version": "3"}, admin),
            call(port, "POST", "/admin/reload", {}, intruder),
        ]

    assert [status for status, _ in answers] == [200, 401, 422, 401]  # 422: version 3 is broken
    assert any(record.name == "uvicorn.access" for record in caplog.records)
    seen = [body for _, body in answers] + [caplog.text]
    seen += [record.getMessage() for record in caplog.records]
    for secret in (key, token, guess):
        assert not [text for text in seen if secret in text], f"{secret} was shown"
