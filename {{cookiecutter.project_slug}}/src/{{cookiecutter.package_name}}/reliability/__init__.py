"""Reliability checks of the prediction server: a bounded load test, a fuzzer driven by the
server's own OpenAPI document, and a kill -9 crash test of its logs (``reliability`` commands,
``make load``, ``make fuzz``, ``make crash-test``)."""
