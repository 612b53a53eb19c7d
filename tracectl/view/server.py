"""Serving the view: werkzeug's threaded server on 127.0.0.1, stopped by Ctrl-C or an idle hour."""

from __future__ import annotations

import threading
import time
import webbrowser
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from flask import Flask
from werkzeug.serving import make_server

IDLE_S = 3600.0


@contextmanager
def running(app: Flask, *, port: int = 0) -> Iterator[Callable[[], float]]:
    """Serve `app` on 127.0.0.1:`port` (0: a free one) while in the block; yields `idle()`, the seconds
    since the last request. `app.config["URL"]` is the base URL."""
    server = make_server("127.0.0.1", port, app, threaded=True)
    last = [time.monotonic()]

    @app.before_request
    def _seen() -> None:
        last[0] = time.monotonic()

    app.config["URL"] = f"http://127.0.0.1:{server.server_port}/"
    thread = threading.Thread(target=server.serve_forever, name="tracectl-view", daemon=True)
    thread.start()
    try:
        yield lambda: time.monotonic() - last[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def serve(app: Flask, *, port: int, open_browser: bool, say: Callable[[str], None], idle_s: float = IDLE_S) -> None:
    """Serve until Ctrl-C or `idle_s` without a request; says the URL first."""
    with running(app, port=port) as idle:
        url = app.config["URL"]
        say(f"tracectl view: {url}  (Ctrl-C stops it; it stops by itself after {idle_s / 60:.0f} idle minutes)")
        if open_browser:
            webbrowser.open(url)
        try:
            while idle() < idle_s:
                time.sleep(min(1.0, idle_s))
            say(f"stopped: no request for {idle_s / 60:.0f} minutes")
        except KeyboardInterrupt:
            say("stopped")
