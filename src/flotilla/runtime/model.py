"""The class users subclass: ``flotilla.runtime.Model``. Standard library only."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar


class InvalidInput(ValueError):
    """Raise from ``predict()`` when the caller's inputs are wrong: the caller gets
    400 ``INVALID_INPUT`` with this message, instead of 500 ``MODEL_ERROR``."""


class Model:
    """A model served by a replica.

    The runtime constructs the class with no arguments, sets ``self.path`` (the package folder,
    a ``pathlib.Path``), calls ``load()`` once in a worker thread, and from then on calls
    ``predict(inputs)`` for each request. Do expensive work (reading weights, training) in
    ``load()``, not in ``__init__``.

    ``predict`` takes the request's ``inputs`` (any JSON value) and returns the ``outputs``
    (anything ``json.dumps`` accepts, without NaN or infinities). It may be ``async def``.
    A plain ``def predict`` runs in a thread pool (``--threads``, default 4) so that a slow
    prediction does not hold up other requests: it must then be thread-safe, or the replica
    run with ``--threads 1``. A class whose predict is cheap sets ``inline = True``: it is then
    called directly on the event loop, which is faster but must never block.
    """

    inline: ClassVar[bool] = False
    """Call a plain ``predict`` on the event loop instead of the thread pool (cheap models)."""

    path: Path = Path()
    """The package folder; set by the runtime before ``load()``. Read shipped files from it;
    do not write into it (it is a shared, content-addressed cache)."""

    def load(self) -> None:
        """Prepare the model (read weights, train, warm caches); called once before ready."""

    def predict(self, inputs: Any) -> Any:
        """Answer one request: ``inputs`` as sent, the return value as ``outputs``."""
        raise NotImplementedError(f"{type(self).__name__} must define predict(self, inputs)")
