"""Flotilla's Python SDK: ``Client`` (blocking) and ``AsyncClient`` (asyncio).

::

    import flotilla

    client = flotilla.Client()              # FLOTILLA_URL/FLOTILLA_TOKEN, or the credentials file
    for pool in client.nodepools.list("shared"):
        print(pool.id, pool.status)
    client.deployments.wait_until_ready("echo", timeout=120)
    print(client.predict("echo", {"text": "hi"}))

Modules: ``config`` (where the server and token come from), ``http`` (one exchange: timeouts,
retries, error codes to exceptions), ``calls`` (every API call, as data), ``sync`` and ``aio``
(the two clients) with their ``sync_collections`` and ``aio_collections``, ``follow``
(following events and logs), ``waiting`` (what "ready" means), ``packaging`` (a model folder as
a tar.gz), ``types`` (the resources answered).
"""

from flotilla.client.aio import AsyncClient
from flotilla.client.config import Config
from flotilla.client.sync import Client

__all__ = ["AsyncClient", "Client", "Config"]
