"""A faithful fake Ollama daemon for tests.

`FakeOllama` holds the state of a pretend ``ollama serve`` (installed models, loaded models,
scripted failures, the requests it received) and exposes the HTTP API as a Starlette app.
Everything on the wire follows ``/work/shared/ollama-api.md``: field names, NDJSON streaming,
exact error bodies, status codes and content types.

Use it in-process::

    fake = FakeOllama()
    transport = httpx2.ASGITransport(app=fake.app())
    client = httpx2.Client(transport=transport, base_url="http://127.0.0.1")

on real loopback sockets (streaming, disconnects, subprocesses)::

    with serve_fake_ollama() as handle:
        ollama.Client(host=handle.url).list()

or as a process (``python -m tests.fake_ollama --port 11434``). This module is the entry point;
the code lives in `tests.fake_daemon`, one module per concern.

Fault modes (``fake.fault``), see `FAULT_MODES`:

* ``"http_500"``: 500 ``{"error": ...}`` before anything is streamed.
* ``"http_503"``: 503 ``server busy, please try again.  maximum pending requests exceeded``.
* ``"drop_mid_stream"``: a few chunks, then the connection is closed without finishing the
  chunked body (httpx: ``RemoteProtocolError``). Non-streamed responses are cut in the middle of
  the body (Content-Length not reached).
* ``"slow"``: headers and the first chunk, then silence for ``fake.stall_seconds`` (then the
  stream continues). Non-streamed requests stall before responding. Ends early on shutdown.
* ``"malformed_line"``: a line that is not JSON in the middle of the stream (then the stream
  continues). Non-streamed responses get a truncated JSON body.
* ``"error_line"``: HTTP 200 stream with an ``{"error": ...}`` line after a few chunks.
  Non-streamed responses get a 500 ``{"error": ...}``.

``fake.fault_count`` limits the fault to the next N matching requests (``None`` = until cleared).
``fake.fault_paths`` restricts it to some paths; when ``None`` every path except the liveness
endpoints (``/`` and ``/api/version``) is hit.
"""

from __future__ import annotations

import sys

from tests.fake_daemon.catalog import FakeModel
from tests.fake_daemon.goformat import wait_until
from tests.fake_daemon.names import parse_model_name
from tests.fake_daemon.records import NameSet, RecordedRequest, ScriptedResponse
from tests.fake_daemon.server import FakeServerHandle, main, serve_fake_ollama
from tests.fake_daemon.state import FakeOllama
from tests.fake_daemon.wire import BUSY_MESSAGE as BUSY_MESSAGE
from tests.fake_daemon.wire import FAULT_MODES, OLLAMA_VERSION
from tests.fake_daemon.wire import RUNNER_DIED_MESSAGE as RUNNER_DIED_MESSAGE

__all__ = [
    "FAULT_MODES",
    "OLLAMA_VERSION",
    "FakeModel",
    "FakeOllama",
    "FakeServerHandle",
    "NameSet",
    "RecordedRequest",
    "ScriptedResponse",
    "main",
    "parse_model_name",
    "serve_fake_ollama",
    "wait_until",
]

if __name__ == "__main__":
    sys.exit(main())
