"""A deadline for a whole HTTP response: httpx's timeouts bound each read, so a server that sends a byte now and
then would hold a request for ever."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import httpx


@contextmanager
def cut_at(response: httpx.Response, deadline: float) -> Iterator[None]:
    """Shut the response's connection at ``deadline`` (``time.monotonic()``), which ends a read in progress; the
    read then fails as a timeout. Without a socket to shut (another transport) each read keeps its own timeout."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    lock = threading.Lock()
    state = {"done": False, "cut": False}

    def cut() -> None:
        with lock:
            if not state["done"]:
                state["cut"] = True
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(max(0.0, deadline - time.monotonic()), cut)
    timer.daemon = True
    if sock is not None:
        timer.start()
    try:
        yield
    except httpx.TransportError:
        if state["cut"]:
            raise httpx.ReadTimeout("the response was not complete by the deadline", request=response.request) from None
        raise
    finally:
        with lock:
            state["done"] = True
        timer.cancel()
