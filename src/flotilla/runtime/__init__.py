"""The model runtime: the ``Model`` base class and the replica server that serves one.

This package imports only the standard library: a replica may run in a virtualenv holding just
the model's requirements, with ``flotilla`` importable from the source tree and none of its
dependencies installed.

Writing a model
---------------
::

    from flotilla.runtime import InvalidInput, Model

    class Sentiment(Model):
        def load(self):                    # once, in a worker thread, before the replica is ready
            self.words = (self.path / "data" / "words.tsv").read_text()
        def predict(self, inputs):         # inputs: the request's JSON "inputs"
            return {"label": "positive"}   # outputs: anything json.dumps accepts

* ``self.path`` is the package folder (a ``pathlib.Path``), set after construction and before
  ``load()``. Read shipped files from it; do not write into it. The working directory is left
  as the agent started the process.
* ``load()`` may be ``def`` (run in a worker thread) or ``async def`` (run on the event loop).
* ``predict()`` may be ``async def``: awaited on the event loop, any number concurrently.
* A plain ``def predict`` runs in a thread pool of ``--threads`` threads (default 4), so a slow
  prediction never blocks other connections, ``/healthz`` or ``/ready``; requests beyond that
  many wait for a free thread. Several predictions may then run at once: make ``predict``
  thread-safe or run with ``--threads 1``. JSON decoding and encoding happen in that thread too.
* A class that sets ``inline = True`` has its plain ``predict`` called directly on the event
  loop: no thread hand-off, the fastest path, for cheap models like echo. It must not block.
* Raising ``InvalidInput("...")`` answers 400 ``INVALID_INPUT`` with that message; any other
  exception answers 500 ``MODEL_ERROR`` and the server keeps serving.

Running a replica
-----------------
::

    python -m flotilla.runtime --package DIR --entrypoint model.py:ClassName --port N
        [--host 127.0.0.1] [--threads 4] [--max-body-bytes 67108864]
        [--keep-alive-timeout 75] [--grace-period 30]

``--port 0`` picks a free port (the ready line says which). Startup: the server listens first,
then imports the entrypoint, constructs the class and calls ``load()``, in a worker thread, so
``/healthz`` answers during a long load. When ``load()`` has returned, the process prints
exactly one line to stdout, ``ready on http://HOST:PORT``, and ``/ready`` turns 200. Logs go to
stderr (``logging`` is set up at INFO); the model's own prints go to stdout, line-buffered.

Endpoints (HTTP/1.1 and 1.0, keep-alive and pipelining, ``Content-Length`` or chunked request
bodies, ``Expect: 100-continue``; every answer is JSON; errors are
``{"error": {"code": ..., "message": ...}}``):

* ``POST /predict`` with ``{"inputs": ...}`` → 200 ``{"outputs": ...}``.
  400 ``INVALID_INPUT``: the body is not JSON, not an object, has no ``inputs``, or predict
  raised ``InvalidInput``. 500 ``MODEL_ERROR`` with ``"type": "<ExceptionClass>"`` and the
  exception's message: predict raised, or returned something JSON cannot encode.
  503 ``NOT_READY`` (with ``Retry-After: 1``) before ``load()`` returned; 503 ``DRAINING``
  during shutdown. 413 ``PAYLOAD_TOO_LARGE`` over ``--max-body-bytes`` (64 MiB).
* ``GET /healthz`` → 200 ``{"status": "ok", "state": "loading"|"ready"|"draining",
  "inflight": N}`` as long as the process is up.
* ``GET /ready`` → 200 ``{"status": "ready"}`` once ``load()`` returned; 503 with code
  ``NOT_READY`` while loading and ``DRAINING`` once SIGTERM arrived.
* Anything else: 404 ``NOT_FOUND``, or 405 ``METHOD_NOT_ALLOWED`` (with ``Allow``) on a known
  path. A malformed request gets 400 ``MALFORMED_REQUEST`` (431 for a head over 64 KiB, 501 for
  a transfer coding other than chunked, 505 for another HTTP version) and its connection is
  closed.

A failed load ends the process (it does not stay up reporting the failure): if importing the
entrypoint, constructing the class or ``load()`` raises, the traceback is printed to stderr,
then the line ``ERROR flotilla.runtime: model failed to load: <ExceptionClass>: <message>``,
and the process exits with code 3. The agent reads the exit code and the last stderr lines.

Exit codes:

* 0 — stopped by SIGTERM or SIGINT.
* 1 — an internal error of the runtime.
* 2 — a bad command line (argparse), e.g. ``--package`` is not a folder.
* 3 — the model failed to load (see above).
* 4 — the server cannot listen on ``--host``/``--port`` (e.g. the port is taken).

Shutdown: on SIGTERM (or SIGINT) the server stops accepting connections, ``/ready`` turns 503,
idle keep-alive connections are closed, and requests in flight finish and are answered with
``Connection: close``; then the process exits 0. It waits at most ``--grace-period`` seconds
(default 30) for them, then exits 0 regardless. A second signal exits at once. A SIGTERM
during ``load()`` exits 0 without waiting for ``load()``. Idle keep-alive connections are closed
after ``--keep-alive-timeout`` seconds (default 75).
"""

from __future__ import annotations

from flotilla.runtime.loader import load_model
from flotilla.runtime.model import InvalidInput, Model

__all__ = ["InvalidInput", "Model", "load_model"]
