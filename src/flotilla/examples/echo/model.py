"""The echo model: outputs are the inputs, unchanged."""

from typing import Any

from flotilla.runtime import Model


class Echo(Model):
    inline = True  # trivial work: answer on the event loop, no thread hand-off

    def predict(self, inputs: Any) -> Any:
        return inputs
