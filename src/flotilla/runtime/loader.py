"""Import a package's entrypoint and make its model: ``model.py:ClassName`` → an instance."""

from __future__ import annotations

import importlib.util
import inspect
import sys
from pathlib import Path, PurePosixPath
from typing import Any

from flotilla.runtime.model import Model


class EntrypointError(Exception):
    """The entrypoint cannot give a model: the message says what to fix."""


def parse_entrypoint(entrypoint: str) -> tuple[PurePosixPath, str]:
    """``"sub/model.py:Sentiment"`` → ``(PurePosixPath("sub/model.py"), "Sentiment")``."""
    file, _, name = entrypoint.rpartition(":")
    path = PurePosixPath(file)
    if (
        not file.endswith(".py")
        or not name.isidentifier()
        or path.is_absolute()
        or ".." in path.parts
    ):
        raise EntrypointError(
            f"entrypoint {entrypoint!r} must look like 'path/to/file.py:ClassName', "
            "a file inside the package"
        )
    return path, name


def import_class(package: Path, entrypoint: str) -> type[Any]:
    """Import the entrypoint's file (the package folder first on ``sys.path``, so that it can
    import its sibling modules) and return the class it names."""
    relative, class_name = parse_entrypoint(entrypoint)
    file = package / relative
    if not file.is_file():
        raise EntrypointError(f"entrypoint file {relative} is not in the package {package}")
    root = str(package.resolve())
    if root not in sys.path:
        sys.path.insert(0, root)
    module_name = ".".join(relative.with_suffix("").parts)
    if module_name in sys.modules:  # e.g. a file named json.py: never shadow a loaded module
        module_name = "flotilla_model_entrypoint"
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise EntrypointError(f"cannot import {relative}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    cls = getattr(module, class_name, None)
    if cls is None:
        raise EntrypointError(f"{relative} defines no {class_name!r}")
    if not inspect.isclass(cls):
        raise EntrypointError(f"{relative}:{class_name} is not a class")
    if not callable(getattr(cls, "predict", None)):
        raise EntrypointError(
            f"{relative}:{class_name} has no predict(self, inputs); subclass flotilla.runtime.Model"
        )
    return cls


def make_model(package: Path, entrypoint: str) -> Any:
    """Import and construct the model, with ``path`` set; ``load()`` is not called yet."""
    cls = import_class(package, entrypoint)
    model = cls()
    model.path = package
    return model


def load_model(package: str | Path, entrypoint: str) -> Model:
    """Import, construct and load a package's model in this process, as a replica would: for
    tests and notebooks. An ``async def load`` is run to completion."""
    model = make_model(Path(package), entrypoint)
    result = model.load()
    if inspect.isawaitable(result):
        import asyncio

        async def wait() -> None:
            await result

        asyncio.run(wait())
    return model  # type: ignore[no-any-return]
