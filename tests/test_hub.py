"""`cola.hub`: a machine that cannot reach the Hub goes offline after one quick look, not the client's retries."""

import socket
import time

from cola import hub


def test_an_endpoint_that_does_not_answer_is_unreachable_at_once():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        port = server.getsockname()[1]  # bound, not listening: the connection is refused
        started = time.perf_counter()
        assert not hub.hub_reachable(f"http://127.0.0.1:{port}")
        assert not hub.hub_reachable("https://no-such-host.invalid")
        assert time.perf_counter() - started < 2 * hub.PROBE_TIMEOUT_S
        server.listen()
        assert hub.hub_reachable(f"http://127.0.0.1:{port}")


def test_an_unreachable_hub_switches_the_clients_offline(monkeypatch):
    import datasets
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(hub, "hub_reachable", lambda endpoint: False)
    hub.offline_unless_reachable()
    assert constants.HF_HUB_OFFLINE and datasets.config.HF_HUB_OFFLINE
    import os

    assert os.environ["HF_HUB_OFFLINE"] == "1"
    from transformers.utils.hub import is_offline_mode

    assert is_offline_mode()  # transformers reads the same flag


def test_a_reachable_hub_changes_nothing(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub, "hub_reachable", lambda endpoint: True)
    hub.offline_unless_reachable()
    assert not constants.HF_HUB_OFFLINE
