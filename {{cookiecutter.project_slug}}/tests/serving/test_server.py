"""The server for real: uvicorn on 127.0.0.1, spoken to over HTTP, reloaded under load."""

import http.client
import json
import threading
import time
from collections import Counter

import numpy as np
import pytest

from {{ cookiecutter.package_name }}.reliability.server import ServerProcess, setting_overrides

pytestmark = [pytest.mark.slow, pytest.mark.integration]

CLIENTS = 4
AFTER_RELOAD = 100  # per client: answers from the new version before a client stops
MAX_AFTER_RELOAD = 3_000  # per client: requests after the reload answered, at most
RELOAD_TIMEOUT = 120  # seconds: a reload on a busy machine (load, self-check, collect)


class Server:
    """A connection per call (keep-alive within a client), JSON in and out."""

    def __init__(self, port: int):
        self.port = port

    def connect(self, timeout: float = 30) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def call(self, method: str, path: str, body=None, headers=None, connection=None):
        own = connection or self.connect()
        payload = None if body is None else json.dumps(body)
        own.request(method, path, payload, {"Content-Type": "application/json", **(headers or {})})
        answer = own.getresponse()
        data = json.loads(answer.read() or b"null")
        if connection is None:
            own.close()
        return answer.status, data


@pytest.fixture(scope="module")
def server(server_env, tmp_path_factory):
    """`serve` in its own process group, over the test registry; stopped by its PID."""
    folder = tmp_path_factory.mktemp("server")
    settings = setting_overrides(
        serve_admin_token="admin-secret", prediction_log_dir=folder / "predictions"
    )
    with ServerProcess(folder, {**server_env, **settings}, cwd=folder) as running:
        yield Server(running.port)


def test_http_predictions_equal_the_registered_model(server, records, champion_scores):
    status, body = server.call("POST", "/invocations", {"dataframe_records": records})
    one_status, one = server.call("POST", "/predict", records[0])

    assert (status, one_status) == (200, 200)
    np.testing.assert_allclose(body["predictions"], champion_scores, rtol=0, atol=1e-12)
    assert one["churn_probability"] == pytest.approx(champion_scores[0, 1], abs=1e-12)


def test_a_reload_under_load_fails_no_request_and_switches_versions(server, records):
    seen: list[list[tuple[int, str]]] = [[] for _ in range(CLIENTS)]
    reloaded = threading.Event()  # set once the reload has answered, whatever it answered

    def client(answers: list) -> None:
        # Requests before the reload answers are bounded by its duration; after, by a count.
        connection, after, new = server.connect(), 0, 0
        while after < MAX_AFTER_RELOAD and new < AFTER_RELOAD:
            record = records[len(answers) % len(records)]
            status, body = server.call("POST", "/predict", record, None, connection)
            answers.append((status, (body or {}).get("model_version", "")))
            if reloaded.is_set():
                after, new = after + 1, new + (answers[-1][1] == "2")
        connection.close()

    threads = [threading.Thread(target=client, args=(answers,)) for answers in seen]
    for thread in threads:
        thread.start()
    while sum(map(len, seen)) < 200:  # the load is on before the reload starts
        time.sleep(0.01)
    try:
        status, reload = server.call(
            "POST",
            "/admin/reload",
            {"version": "2"},
            {"Authorization": "Bearer admin-secret"},
            server.connect(timeout=RELOAD_TIMEOUT),
        )
    finally:
        reloaded.set()
    for thread in threads:
        thread.join(timeout=RELOAD_TIMEOUT)

    answers = [answer for client_answers in seen for answer in client_answers]
    assert (status, reload["version"]) == (200, "2")
    assert Counter(code for code, _ in answers) == {200: len(answers)}  # zero failures
    for client_answers in seen:  # each client: version 1, then only version 2
        versions = [version for _, version in client_answers]
        switch = versions.index("2")
        assert set(versions[:switch]) == {"1"}
        assert set(versions[switch:]) == {"2"}


def test_a_broken_model_is_refused_over_http_and_the_served_one_keeps_answering(server, records):
    admin = {"Authorization": "Bearer admin-secret"}
    before = server.call("GET", "/model")[1]["version"]

    status, refused = server.call("POST", "/admin/reload", {"version": "3"}, admin)
    answers = [server.call("POST", "/predict", record) for record in records[:50]]

    assert (status, refused["error"]["code"]) == (422, "reload_refused")
    assert {code for code, _ in answers} == {200}
    assert {body["model_version"] for _, body in answers} == {before}
