"""Reaching the Hugging Face Hub: one quick look before the first download, so that a machine without the network
fails in seconds with the suite's one-line error, not after half a minute of the Hub client's retries (each logged
twice). Where the Hub cannot be reached, the process goes offline as HF_HUB_OFFLINE=1 would have it: what the
Hugging Face cache holds still loads; anything else fails at once."""

from __future__ import annotations

import logging
import os
import socket
from urllib.parse import urlparse

logger = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 3.0


def offline_unless_reachable() -> None:
    """Switch huggingface_hub (transformers reads its flag) and datasets offline when the Hub cannot be reached."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE or hub_reachable(constants.ENDPOINT):
        return
    logger.info("The Hugging Face Hub (%s) cannot be reached: working offline, from the Hugging Face cache only",
                constants.ENDPOINT)
    os.environ["HF_HUB_OFFLINE"] = "1"  # for what reads the environment later (a DataLoader worker, say)
    constants.HF_HUB_OFFLINE = True
    try:
        import datasets

        datasets.config.HF_HUB_OFFLINE = True
    except ImportError:  # pragma: no cover - datasets is a requirement
        pass


def hub_reachable(endpoint: str, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to the endpoint's host opens within `timeout` (a name that does not resolve: no)."""
    url = urlparse(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False
