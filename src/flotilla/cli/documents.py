"""``flotilla apply -f`` and ``flotilla delete -f``: YAML documents (``compute_cluster:``,
``nodepool:``, ``deployment:``, in Flotilla's form or Clarifai's), several per file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from flotilla.cli import output
from flotilla.cli.common import (
    DEFAULT_WAIT,
    Output,
    WaitGone,
    WaitTimeout,
    Yes,
    confirm,
    progress,
    sdk,
)
from flotilla.cli.output import Format
from flotilla.errors import NotFound

if TYPE_CHECKING:
    from flotilla.services.documents import Document

Files = Annotated[
    list[Path],
    typer.Option(
        "--filename",
        "-f",
        metavar="FILE",
        help="A YAML file, a folder of them, or - for stdin (repeatable).",
        show_default=False,
    ),
]


def read_files(files: list[Path]) -> str:
    """Every document of every file, as one multi-document YAML text."""
    texts = []
    for path in files:
        if str(path) == "-":
            texts.append(sys.stdin.read())
        elif path.is_dir():
            texts.extend(
                p.read_text(encoding="utf-8")
                for p in sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
            )
        else:
            try:
                texts.append(path.read_text(encoding="utf-8"))
            except OSError as error:
                raise typer.BadParameter(f"cannot read {path}: {error}", param_hint="-f") from None
    return "\n---\n".join(texts)


def id_of(doc: Document) -> str:
    spec: Any = doc.spec  # every kind of document has an id
    return str(spec.id)


def name_of(doc: Document) -> str:
    if doc.kind == "nodepool":
        return f"nodepool/{doc.compute_cluster}/{id_of(doc)}"
    return f"{doc.kind}/{id_of(doc)}"


def apply(
    files: Files,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check everything and say what would change.")
    ] = False,
    fmt: Output = Format.TABLE,
) -> None:
    """Create or update what YAML documents describe, all or nothing.

    Each document is one compute_cluster:, nodepool: or deployment:; Clarifai's config files are accepted as they are. Applying the same files twice changes nothing."""
    answer = sdk().apply(read_files(files), dry_run=dry_run)
    if fmt != Format.TABLE:
        output.print_data(answer, fmt)
        return
    suffix = " (dry run: nothing was changed)" if dry_run else ""
    for result in answer.results:
        name = f"{result.compute_cluster}/{result.id}" if result.compute_cluster else result.id
        output.say(f"{result.kind}/{name} {result.action}{suffix}")


def delete(
    files: Files,
    yes: Yes = False,
    wait: WaitGone = False,
    timeout: WaitTimeout = DEFAULT_WAIT,
    fmt: Output = Format.TABLE,
) -> None:
    """Delete what YAML documents describe (the files you applied).

    Deployments go first, then nodepools, then clusters; objects already gone are skipped."""
    from flotilla.services.documents import load_documents

    docs = list(reversed(load_documents(read_files(files))))
    listed = ", ".join(name_of(doc) for doc in docs)
    confirm(f"Delete {listed}?", yes)
    client = sdk()
    results = []
    for doc in docs:
        try:
            if doc.kind == "deployment":
                status = client.deployments.delete(id_of(doc)).status
            elif doc.kind == "nodepool":
                assert doc.compute_cluster is not None
                status = client.nodepools.delete(doc.compute_cluster, id_of(doc)).status
            else:
                status = client.compute_clusters.delete(id_of(doc)).status
        except NotFound:
            status = "not found"
        results.append({"kind": doc.kind, "name": name_of(doc), "status": status})
        if fmt == Format.TABLE:
            output.say(f"{name_of(doc)} {status}")
    if wait:
        with progress("Waiting until they are gone…"):
            for doc in docs:
                _wait_gone(doc, timeout)
        if fmt == Format.TABLE:
            output.say("all gone")
    if fmt != Format.TABLE:
        output.print_data(results, fmt)


def _wait_gone(doc: Document, timeout: float) -> None:
    client = sdk()
    if doc.kind == "deployment":
        client.deployments.wait_until_deleted(id_of(doc), timeout=timeout)
    elif doc.kind == "nodepool" and doc.compute_cluster is not None:
        client.nodepools.wait_until_deleted(doc.compute_cluster, id_of(doc), timeout=timeout)
    else:
        client.compute_clusters.wait_until_deleted(id_of(doc), timeout=timeout)
