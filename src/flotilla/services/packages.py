"""Model packages: a tar.gz of a folder holding ``model.yaml``, the user code and requirements.

``unpack_package`` checks an upload member by member as it streams (no absolute paths, no ``..``,
no links, devices or fifos; size and count limits enforced before bytes reach the disk), checks
``model.yaml`` against the files, and stores the package content-addressed: the folder at
``packages_dir/<hex>`` and a normalized ``packages_dir/<hex>.tar.gz`` for agents to download.
A rejected upload leaves nothing under ``packages_dir`` and nothing behind in ``home/tmp``.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import keyword
import os
import re
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import AsyncIterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml
from pydantic import Field, ValidationError, field_validator

from flotilla.domain.errors import PackageInvalid, PackageTooLarge
from flotilla.domain.ids import ObjectId
from flotilla.domain.specs import Description, Resources, Spec
from flotilla.settings import Settings

MANIFEST = "model.yaml"
DEFAULT_REQUIREMENTS = "requirements.txt"
_HOW_TO_ARCHIVE = "create it with `tar czf model.tar.gz -C <model folder> .`"
_DIGEST_RE = re.compile(r"sha256:([0-9a-f]{64})")
_COMMENT_RE = re.compile(r"(^|\s)#.*$")  # pip's rule: '#' at the start or after whitespace
_CHUNK = 1 << 20
_HEADER_BYTES_PER_MEMBER = 8192  # tar header, pax records and padding allowed per member
# tarfile follows chained pax/GNU headers recursively, so a tiny crafted archive can exhaust the
# stack: that is a broken archive, not a server fault.
_UNREADABLE = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, RecursionError)


def _invalid(message: str, field: str, problem: str) -> PackageInvalid:
    return PackageInvalid(message, fields={field: problem})


def _check_relative(value: str, what: str) -> str:
    parts = PurePosixPath(value).parts
    if not parts or value.startswith("/") or ".." in parts or "\\" in value:
        raise ValueError(f"{what} {value!r} must be a path inside the package, without '..'")
    return value


class ModelManifest(Spec):
    """``model.yaml``: what the package is and how to run it."""

    id: ObjectId | None = Field(None, description="When given, must equal the model uploaded to.")
    description: Description = ""
    entrypoint: str = Field(max_length=200, examples=["model.py:Sentiment"])  # its column
    resources: Resources = Field(default_factory=Resources)
    requirements: str | None = Field(
        None, max_length=300, description="pip requirements file; requirements.txt if present."
    )

    @field_validator("entrypoint")
    @classmethod
    def _check_entrypoint(cls, value: str) -> str:
        file, _, name = value.rpartition(":")
        if not file.endswith(".py") or not name.isidentifier() or keyword.iskeyword(name):
            raise ValueError(f"entrypoint {value!r} must look like 'path/to/file.py:ClassName'")
        _check_relative(file, "entrypoint file")
        return value

    @field_validator("requirements")
    @classmethod
    def _check_requirements(cls, value: str | None) -> str | None:
        return None if value is None else _check_relative(value, "requirements")

    @property
    def entrypoint_file(self) -> str:
        """The file part of ``entrypoint``: ``"model.py"`` for ``"model.py:Sentiment"``."""
        return self.entrypoint.rpartition(":")[0]


@dataclass(frozen=True)
class Package:
    """A checked, stored package. Equal files give an equal ``digest``, however archived."""

    digest: str
    size_bytes: int
    manifest: ModelManifest
    requirements_hash: str | None
    path: Path
    archive: Path


def package_path(settings: Settings, digest: str) -> Path:
    """The unpacked folder of ``digest``; it exists once ``unpack_package`` returned the digest."""
    return settings.packages_dir / _hex(digest)


def package_archive(settings: Settings, digest: str) -> Path:
    """The normalized tar.gz of ``digest``; present whenever ``package_path`` is."""
    return settings.packages_dir / f"{_hex(digest)}.tar.gz"


def _hex(digest: str) -> str:
    if not (match := _DIGEST_RE.fullmatch(digest)):
        message = f"invalid package digest {digest!r}: expected 'sha256:' and 64 hex digits"
        raise _invalid(message, "digest", "invalid")
    return match.group(1)


def unpack_package(archive: Path, settings: Settings, *, model_id: str | None = None) -> Package:
    """Check ``archive`` and store it content-addressed; blocking (run it in a thread).

    Raises ``PackageInvalid`` or ``PackageTooLarge`` saying what to fix, and then has written
    nothing under ``packages_dir``. Idempotent: when the digest is stored already, the stored
    files are kept and the new ones dropped.
    """
    if (size := archive.stat().st_size) > settings.max_package_bytes:
        raise PackageTooLarge(
            f"the package archive is {size} bytes, over the limit of {settings.max_package_bytes}; "
            "leave data and weights out or raise FLOTILLA_MAX_PACKAGE_BYTES"
        )
    (settings.home / "tmp").mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="package-", dir=settings.home / "tmp"))
    try:
        _extract(archive, work / "files", settings)
        root = _package_root(work / "files")
        manifest = _read_manifest(root, model_id)
        digest, size_bytes = _content_digest(root)
        package = Package(
            digest=digest,
            size_bytes=size_bytes,
            manifest=manifest,
            requirements_hash=_requirements_hash(root, manifest.requirements),
            path=package_path(settings, digest),
            archive=package_archive(settings, digest),
        )
        _store(root, work / "normalized.tar.gz", package)
        return package
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _store(root: Path, scratch_archive: Path, package: Package) -> None:
    """Move the archive, then the folder, into place by atomic renames. The folder goes last, so
    a stored folder always has its archive; a folder stored already is kept."""
    if not package.archive.exists():
        _write_normalized_archive(root, scratch_archive)
        package.archive.parent.mkdir(parents=True, exist_ok=True)
        os.replace(scratch_archive, package.archive)
    if package.path.exists():
        return
    try:
        root.rename(package.path)
    except OSError:
        if not package.path.is_dir():  # else a concurrent upload of the same files won the race
            raise


# -- streaming extraction ------------------------------------------------------------------------


def _too_large_unpacked(settings: Settings) -> PackageTooLarge:
    return PackageTooLarge(
        f"the package's files exceed {settings.max_package_unpacked_bytes} bytes unpacked; "
        "leave data and weights out or raise FLOTILLA_MAX_PACKAGE_UNPACKED_BYTES"
    )


@dataclass
class _Tally:
    """What has been unpacked so far; raises as soon as a limit is broken."""

    settings: Settings
    members: int = 0
    declared_bytes: int = 0
    written_bytes: int = 0

    def count_member(self, member: tarfile.TarInfo) -> None:
        self.members += 1
        if self.members > self.settings.max_package_files:
            raise PackageTooLarge(
                f"the package has more than {self.settings.max_package_files} files and folders; "
                "leave data out or raise FLOTILLA_MAX_PACKAGE_FILES"
            )
        self.declared_bytes += member.size if member.isreg() else 0
        if self.declared_bytes > self.settings.max_package_unpacked_bytes:
            raise _too_large_unpacked(self.settings)

    def count_written(self, nbytes: int) -> None:
        self.written_bytes += nbytes
        if self.written_bytes > self.settings.max_package_unpacked_bytes:
            raise _too_large_unpacked(self.settings)


class _BoundedStream:
    """A decompressed view of the upload that never yields more than ``limit`` bytes, so a gzip
    bomb (even one hidden in a tar header, which tarfile reads whole) stops here."""

    def __init__(self, raw: gzip.GzipFile, limit: int, settings: Settings) -> None:
        self._raw, self._limit, self._settings = raw, limit, settings

    def read(self, size: int = -1, /) -> bytes:
        room = self._limit - self._raw.tell()
        if 0 <= size <= room:
            return self._raw.read(size)
        data = self._raw.read(room + 1)  # one byte more tells "ends in time" from "too large"
        if len(data) > room:
            raise _too_large_unpacked(self._settings)
        return data

    def seek(self, pos: int, /) -> int:
        if pos > self._limit:
            raise _too_large_unpacked(self._settings)
        return self._raw.seek(pos)

    def tell(self) -> int:
        return self._raw.tell()

    def write(self, data: bytes, /) -> int:
        raise OSError("read-only stream")

    def close(self) -> None:
        self._raw.close()


def _extract(archive: Path, dest: Path, settings: Settings) -> None:
    """Unpack the regular files and folders of ``archive`` into ``dest``, checking each member
    before any of it is written; never writes more than the unpacked limit."""
    dest.mkdir()
    tally = _Tally(settings)
    headers = _HEADER_BYTES_PER_MEMBER * (settings.max_package_files + 4)
    try:
        with gzip.open(archive, "rb") as raw:
            stream = _BoundedStream(raw, settings.max_package_unpacked_bytes + headers, settings)
            with tarfile.open(fileobj=stream, mode="r:") as tar:
                for member in tar:
                    _extract_member(tar, member, dest, tally)
    except _UNREADABLE as exc:
        message = f"the upload is not a readable gzip-compressed tar ({exc}); {_HOW_TO_ARCHIVE}"
        raise _invalid(message, "archive", "unreadable") from None


def _extract_member(
    tar: tarfile.TarFile, member: tarfile.TarInfo, dest: Path, tally: _Tally
) -> None:
    path = _member_path(member, dest)
    tally.count_member(member)
    if not path.parts:  # "." : the archive's own root folder
        return
    target = dest.joinpath(*path.parts)
    try:
        if member.isdir():
            target.mkdir(parents=True, exist_ok=True)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        out = target.open("xb")
    except (FileExistsError, NotADirectoryError):  # archived twice, or as a file and a folder
        message = f"member {member.name!r} clashes with another member of that path; keep one"
        raise _invalid(message, "member", member.name) from None
    source = tar.extractfile(member)
    assert source is not None  # tarfile gives every regular member a reader
    with source, out:
        while chunk := source.read(_CHUNK):
            tally.count_written(len(chunk))
            out.write(chunk)
    target.chmod(0o755 if member.mode & 0o111 else 0o644)


def _member_path(member: tarfile.TarInfo, dest: Path) -> PurePosixPath:
    """The member's path inside the package, or ``PackageInvalid`` naming the member."""
    name, path = member.name, PurePosixPath(member.name)
    problem = ""
    if path.is_absolute() or ".." in path.parts:
        problem = f"leaves the package folder (absolute or '..'); {_HOW_TO_ARCHIVE}"
    elif member.issym() or member.islnk():
        problem = "is a link; packages hold only files and folders: copy the file it points to"
    elif not (member.isreg() or member.isdir()):
        problem = "is a device or fifo; packages hold only regular files and folders"
    elif "\x00" in name or any(len(part.encode("utf-8", "replace")) > 255 for part in path.parts):
        problem = "has a name that is too long or holds a NUL byte; rename it"
    else:
        try:
            name.encode("utf-8")
            tarfile.data_filter(member, str(dest))
        except UnicodeEncodeError:
            problem = "has a name that is not UTF-8; rename it"
        except tarfile.FilterError as exc:
            problem = f"is not allowed: {exc}"
    if problem:
        raise _invalid(f"member {name!r} {problem}", "member", name)
    return path


def _package_root(files: Path) -> Path:
    """``files`` itself, or its single top-level folder when the archive was made of one."""
    entries = list(files.iterdir())
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else files


# -- model.yaml ----------------------------------------------------------------------------------


def _read_manifest(root: Path, model_id: str | None) -> ModelManifest:
    """The checked manifest, with ``requirements`` filled in when requirements.txt exists."""
    file = root / MANIFEST
    if not file.is_file():
        message = (
            f"the package has no {MANIFEST} at its top; add one with `entrypoint: file.py:Class`"
        )
        raise _invalid(message, MANIFEST, "missing")
    try:
        data = yaml.safe_load(file.read_bytes())
    except yaml.YAMLError as exc:
        raise _invalid(f"{MANIFEST} is not valid YAML: {exc}", MANIFEST, "invalid YAML") from None
    if not isinstance(data, dict):
        message = f"{MANIFEST} must be a mapping of fields, like `entrypoint: model.py:ClassName`"
        raise _invalid(message, MANIFEST, "not a mapping")
    try:
        manifest = ModelManifest.model_validate(data)
    except ValidationError as exc:
        raise _manifest_invalid(exc) from None
    return _check_against_files(root, manifest, model_id)


def _manifest_invalid(exc: ValidationError) -> PackageInvalid:
    problems: dict[str, str] = {}
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or MANIFEST
        if error["type"] == "extra_forbidden":
            problems[where] = f"unknown field {where!r}: remove it or fix its spelling"
        else:
            problems[where] = str(error["msg"]).removeprefix("Value error, ")
    detail = "; ".join(f"{where}: {problem}" for where, problem in problems.items())
    return PackageInvalid(f"{MANIFEST} is invalid: {detail}", fields=problems)


def _check_against_files(
    root: Path, manifest: ModelManifest, model_id: str | None
) -> ModelManifest:
    if model_id is not None and manifest.id is not None and manifest.id != model_id:
        message = (
            f"{MANIFEST} has id {manifest.id!r} but the package was uploaded to model "
            f"{model_id!r}; fix the id in {MANIFEST} or remove it"
        )
        raise _invalid(message, "id", f"must be {model_id!r}")
    for key, file in (
        ("entrypoint", manifest.entrypoint_file),
        ("requirements", manifest.requirements),
    ):
        if file is not None and not (root / file).is_file():
            message = (
                f"{key} file {file!r} is not in the package; add it or fix `{key}` in {MANIFEST}"
            )
            raise _invalid(message, key, "file missing")
    if manifest.requirements is None and (root / DEFAULT_REQUIREMENTS).is_file():
        return manifest.model_copy(update={"requirements": DEFAULT_REQUIREMENTS})
    return manifest


def _requirements_hash(root: Path, requirements: str | None) -> str | None:
    """Equal for requirement files that differ only in comments, blank lines, spacing and order;
    None when there are no requirements (no file, or nothing but comments)."""
    if requirements is None:
        return None
    try:
        text = (root / requirements).read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        message = f"requirements file {requirements!r} is not UTF-8 text"
        raise _invalid(message, "requirements", "not UTF-8") from None
    lines = {_COMMENT_RE.sub("", line).strip() for line in text.splitlines()} - {""}
    if not lines:
        return None
    return "sha256:" + hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()


# -- content identity ----------------------------------------------------------------------------


def _entries(root: Path) -> Iterator[tuple[str, Path, str]]:
    """Files (kind "file" or "exec") and empty folders ("dir") in sorted relative-path order:
    all that makes up the package, as folders holding anything are implied by their content."""
    for relative, path in sorted((p.relative_to(root).as_posix(), p) for p in root.rglob("*")):
        if not path.is_dir():
            yield relative, path, "exec" if path.stat().st_mode & 0o100 else "file"
        elif not any(path.iterdir()):
            yield relative, path, "dir"


def _content_digest(root: Path) -> tuple[str, int]:
    """``("sha256:<hex>", total file bytes)`` over paths, kinds and bytes; blind to archive
    order, mtimes and owners."""
    sha, total = hashlib.sha256(), 0
    for relative, path, kind in _entries(root):
        size = 0 if kind == "dir" else path.stat().st_size
        sha.update(f"{kind}\0{relative}\0{size}\0".encode())
        if kind != "dir":
            with path.open("rb") as source:
                while chunk := source.read(_CHUNK):
                    sha.update(chunk)
        total += size
    return "sha256:" + sha.hexdigest(), total


def _write_normalized_archive(root: Path, target: Path) -> None:
    """A byte-for-byte reproducible tar.gz of ``root``: sorted entries, mtime 0, owner 0, modes
    0644/0755, no gzip name or time. It never has more members than the upload had."""
    with (
        target.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for relative, path, kind in _entries(root):
            info = tarfile.TarInfo(relative)
            info.mode = 0o644 if kind == "file" else 0o755
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
                continue
            info.size = path.stat().st_size
            with path.open("rb") as source:
                tar.addfile(info, source)


def _temporary_file(folder: Path) -> tuple[int, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="upload-", suffix=".tar.gz", dir=folder)
    return fd, Path(name)


async def receive_upload(chunks: AsyncIterable[bytes], folder: Path, limit: int) -> Path:
    """An uploaded body streamed to a temporary file in ``folder``, refused
    (``PackageTooLarge``, nothing left behind) as soon as it passes ``limit`` bytes."""
    fd, path = await asyncio.to_thread(_temporary_file, folder)
    size = 0
    try:
        with os.fdopen(fd, "wb") as f:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise PackageTooLarge(f"the package is larger than {limit} bytes")
                f.write(chunk)
    except BaseException:
        await asyncio.to_thread(path.unlink, missing_ok=True)
        raise
    return path
