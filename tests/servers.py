"""Real HTTP servers on 127.0.0.1 for host tests: uvicorn (ASGI) and werkzeug (WSGI).

Each binds port 0, so tests running in parallel never share a port.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from werkzeug.serving import make_server


@contextmanager
def serve_asgi(app: Any) -> Iterator[str]:
    """Run ``app`` under uvicorn (lifespan on) in a thread; yields its base URL.

    Startup failures (the lifespan raised) fail the caller with uvicorn's log above.
    """
    # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on sockets whose ``proto`` says
    # TCP, and a socket made with proto 0 passes that on to the connections it accepts.
    # Without TCP_NODELAY every keep-alive response waits ~40 ms (Nagle's algorithm holds
    # the body until the client's delayed ACK of the headers), as uvicorn's own sockets,
    # made from getaddrinfo's answer, never do.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, lifespan="on", log_level="warning", timeout_graceful_shutdown=10)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive(), "uvicorn exited during startup (see the log above)"
            assert time.monotonic() < deadline, "uvicorn did not start within 30 s"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
    assert not thread.is_alive(), "uvicorn did not shut down within 30 s"


@contextmanager
def serve_wsgi(app: Any) -> Iterator[str]:
    """Run ``app`` under werkzeug's threaded server in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
