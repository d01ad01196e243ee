"""Model packages: safe unpacking, model.yaml checks and content-addressed storage."""

from __future__ import annotations

import gzip
import io
import random
import tarfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from flotilla.domain.errors import PackageInvalid, PackageTooLarge
from flotilla.services.packages import (
    ModelManifest,
    package_archive,
    package_path,
    unpack_package,
)
from flotilla.settings import Settings

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

MODEL_YAML = b"entrypoint: model.py:Sentiment\nresources: {cpu: 500m, memory: 512Mi}\n"
MODEL_PY = b"class Sentiment:\n    def predict(self, inputs):\n        return inputs\n"
BASIC = {"model.yaml": MODEL_YAML, "model.py": MODEL_PY}


class Zeros(io.RawIOBase):
    """``size`` zero bytes, produced as they are read (a bomb without the memory)."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        n = min(len(view), self.left)
        view[:n] = bytes(n)
        self.left -= n
        return n


def build_archive(
    path: Path,
    files: Mapping[str, bytes],
    *,
    top: str | None = None,
    executable: Iterable[str] = (),
    folders: Iterable[str] = (),
    symlinks: Mapping[str, str] | None = None,
    hardlinks: Mapping[str, str] | None = None,
    zeros: Mapping[str, int] | None = None,
    extra: Iterable[tarfile.TarInfo] = (),
    mtime: int = 1_700_000_000,
    owner: int = 1000,
    reverse: bool = False,
) -> Path:
    """A tar.gz of ``files`` (name → bytes), names taken literally (absolute or '..' included)."""
    prefix = f"{top}/" if top else ""
    executable = set(executable)
    members: list[tuple[tarfile.TarInfo, io.RawIOBase | io.BytesIO | None]] = []

    def member(name: str, kind: bytes = tarfile.REGTYPE, size: int = 0) -> tarfile.TarInfo:
        info = tarfile.TarInfo(prefix + name)
        info.type, info.size, info.mtime = kind, size, mtime
        info.uid = info.gid = owner
        info.mode = 0o755 if name in executable or kind == tarfile.DIRTYPE else 0o644
        return info

    if top:
        members.append((tarfile.TarInfo(top), None))
        members[0][0].type, members[0][0].mode = tarfile.DIRTYPE, 0o755
    members += [(member(name, tarfile.DIRTYPE), None) for name in folders]
    members += [(member(n, size=len(data)), io.BytesIO(data)) for n, data in files.items()]
    members += [(member(n, size=size), Zeros(size)) for n, size in (zeros or {}).items()]
    for links, kind in ((symlinks, tarfile.SYMTYPE), (hardlinks, tarfile.LNKTYPE)):
        for name, target in (links or {}).items():
            info = member(name, kind)
            info.linkname = target
            members.append((info, None))
    members += [(info, None) for info in extra]
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        for info, data in reversed(members) if reverse else members:
            tar.addfile(info, data)
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Overrides conftest's database-parametrized ``settings``: packages need no database."""
    return Settings(home=tmp_path / "home")


def assert_nothing_written(settings: Settings) -> None:
    for folder in (settings.packages_dir, settings.home / "tmp"):
        assert not folder.exists() or not any(folder.iterdir()), folder


def rejected(
    archive: Path, settings: Settings, error: type[Exception] = PackageInvalid, **kwargs: str
) -> str:
    """The message ``unpack_package`` rejects ``archive`` with, after checking it left nothing."""
    with pytest.raises(error) as caught:
        unpack_package(archive, settings, **kwargs)
    assert_nothing_written(settings)
    return str(caught.value)


def test_valid_package_is_stored_with_its_manifest(tmp_path: Path, settings: Settings) -> None:
    package = unpack_package(build_archive(tmp_path / "p.tar.gz", BASIC), settings)

    assert package.digest.startswith("sha256:")
    assert len(package.digest) == len("sha256:") + 64
    assert package.manifest.entrypoint == "model.py:Sentiment"
    assert package.manifest.resources.cpu == 500
    assert package.manifest.requirements is None
    assert package.requirements_hash is None
    assert package.size_bytes == len(MODEL_YAML) + len(MODEL_PY)
    assert package.path == package_path(settings, package.digest)
    assert (package.path / "model.py").read_bytes() == MODEL_PY
    assert package.archive == package_archive(settings, package.digest)
    assert package.archive.is_file()
    assert not any((settings.home / "tmp").iterdir())


def test_same_files_archived_twice_give_the_same_digest(tmp_path: Path, settings: Settings) -> None:
    first = build_archive(tmp_path / "a.tar.gz", BASIC, mtime=1, owner=0)
    second = build_archive(
        tmp_path / "b.tar.gz", BASIC, mtime=2_000_000_000, owner=501, reverse=True
    )
    assert first.read_bytes() != second.read_bytes()

    assert unpack_package(first, settings).digest == unpack_package(second, settings).digest


@pytest.mark.parametrize(
    "change",
    [
        {"files": {**BASIC, "model.py": MODEL_PY + b"# changed\n"}},
        {"files": BASIC, "executable": ["model.py"]},
        {"files": {**BASIC, "data.txt": b""}},
        {"files": BASIC, "folders": ["cache"]},
    ],
    ids=["file-bytes", "executable-bit", "extra-empty-file", "extra-empty-folder"],
)
def test_any_change_to_the_files_changes_the_digest(
    tmp_path: Path, settings: Settings, change: dict[str, Any]
) -> None:
    original = unpack_package(build_archive(tmp_path / "a.tar.gz", BASIC), settings)
    changed = unpack_package(build_archive(tmp_path / "b.tar.gz", **change), settings)

    assert changed.digest != original.digest


def test_uploading_the_same_files_again_keeps_the_stored_copy(
    tmp_path: Path, settings: Settings
) -> None:
    first = unpack_package(build_archive(tmp_path / "a.tar.gz", BASIC), settings)
    inode = first.path.stat().st_ino

    again = unpack_package(build_archive(tmp_path / "b.tar.gz", BASIC, mtime=5), settings)

    assert again == first
    assert again.path.stat().st_ino == inode
    assert sorted(p.name for p in settings.packages_dir.iterdir()) == sorted(
        [first.path.name, first.archive.name]
    )
    assert not any((settings.home / "tmp").iterdir())


def test_archive_with_single_top_folder_is_accepted(tmp_path: Path, settings: Settings) -> None:
    at_root = unpack_package(build_archive(tmp_path / "a.tar.gz", BASIC), settings)
    in_folder = unpack_package(build_archive(tmp_path / "b.tar.gz", BASIC, top="mymodel"), settings)

    assert in_folder.digest == at_root.digest
    assert (in_folder.path / "model.yaml").is_file()


def test_archive_of_dot_with_dot_slash_names_is_accepted(
    tmp_path: Path, settings: Settings
) -> None:
    archive = build_archive(tmp_path / "p.tar.gz", BASIC, top=".")  # like tar czf p.tgz -C dir .

    package = unpack_package(archive, settings)

    assert sorted(p.name for p in package.path.iterdir()) == ["model.py", "model.yaml"]


@pytest.mark.parametrize(
    "content",
    [b"just some text", b"", gzip.compress(b"not a tar at all" * 100)],
    ids=["text", "empty", "gzip-of-text"],
)
def test_not_a_gzipped_tar_is_rejected(tmp_path: Path, settings: Settings, content: bytes) -> None:
    archive = tmp_path / "p.tar.gz"
    archive.write_bytes(content)

    assert "not a readable gzip-compressed tar" in rejected(archive, settings)


def test_truncated_archive_is_rejected(tmp_path: Path, settings: Settings) -> None:
    noise = random.Random(0).randbytes(64 * 1024)
    archive = build_archive(tmp_path / "p.tar.gz", {**BASIC, "noise.bin": noise})
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])

    assert "not a readable gzip-compressed tar" in rejected(archive, settings)


def test_uncompressed_tar_is_rejected(tmp_path: Path, settings: Settings) -> None:
    archive = tmp_path / "p.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("model.yaml")
        info.size = len(MODEL_YAML)
        tar.addfile(info, io.BytesIO(MODEL_YAML))

    assert "gzip" in rejected(archive, settings)


def test_archive_over_the_upload_limit_is_rejected(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", max_package_bytes=2048)
    noise = random.Random(0).randbytes(4096)  # does not compress
    archive = build_archive(tmp_path / "p.tar.gz", {**BASIC, "noise.bin": noise})

    assert "FLOTILLA_MAX_PACKAGE_BYTES" in rejected(archive, settings, PackageTooLarge)


def test_member_with_dotdot_is_rejected_and_nothing_is_written(
    tmp_path: Path, settings: Settings
) -> None:
    archive = build_archive(tmp_path / "p.tar.gz", {**BASIC, "sub/../../evil.py": b"x"})

    assert "sub/../../evil.py" in rejected(archive, settings)
    assert not (tmp_path / "evil.py").exists()
    assert not (settings.home / "evil.py").exists()


def test_member_with_absolute_path_is_rejected(tmp_path: Path, settings: Settings) -> None:
    target = tmp_path / "outside.py"
    archive = build_archive(tmp_path / "p.tar.gz", {**BASIC, str(target): b"x"})

    assert str(target) in rejected(archive, settings)
    assert not target.exists()


@pytest.mark.parametrize("target", ["model.py", "/etc/passwd", "../../outside"])
def test_symlink_is_rejected(tmp_path: Path, settings: Settings, target: str) -> None:
    archive = build_archive(tmp_path / "p.tar.gz", BASIC, symlinks={"link.py": target})

    assert "'link.py' is a link" in rejected(archive, settings)


def test_hardlink_is_rejected(tmp_path: Path, settings: Settings) -> None:
    archive = build_archive(tmp_path / "p.tar.gz", BASIC, hardlinks={"copy.py": "model.py"})

    assert "'copy.py' is a link" in rejected(archive, settings)


@pytest.mark.parametrize("kind", [tarfile.FIFOTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE])
def test_fifo_or_device_is_rejected(tmp_path: Path, settings: Settings, kind: bytes) -> None:
    special = tarfile.TarInfo("dev")
    special.type = kind
    archive = build_archive(tmp_path / "p.tar.gz", BASIC, extra=[special])

    assert "'dev' is a device or fifo" in rejected(archive, settings)


def test_gzip_bomb_stops_at_the_unpacked_limit(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", max_package_unpacked_bytes=64 * 1024)
    archive = build_archive(tmp_path / "p.tar.gz", BASIC, zeros={"weights.bin": 256 << 20})
    assert archive.stat().st_size < settings.max_package_bytes

    assert "FLOTILLA_MAX_PACKAGE_UNPACKED_BYTES" in rejected(archive, settings, PackageTooLarge)


def test_bomb_hidden_in_a_tar_header_stops_at_the_limit(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path / "home", max_package_unpacked_bytes=64 * 1024, max_package_files=10
    )
    padded = tarfile.TarInfo("notes.txt")
    padded.pax_headers = {"comment": "x" * (8 << 20)}  # tarfile reads a pax header whole
    archive = tmp_path / "p.tar.gz"
    with tarfile.open(archive, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(padded, io.BytesIO())

    assert "unpacked" in rejected(archive, settings, PackageTooLarge)


def test_endless_chain_of_tar_headers_is_rejected_as_unreadable(
    tmp_path: Path, settings: Settings
) -> None:
    record = b"10 a=bbbb\n"  # one pax record: length 10, "a=bbbb"
    chain = []
    for _ in range(3000):
        header = tarfile.TarInfo("pax")
        header.type, header.size = tarfile.XHDTYPE, len(record)
        chain.append(header)
    archive = tmp_path / "p.tar.gz"
    with tarfile.open(archive, "w:gz", format=tarfile.USTAR_FORMAT) as tar:
        for header in chain:
            tar.addfile(header, io.BytesIO(record))

    assert "not a readable" in rejected(archive, settings)


def test_too_many_files_is_rejected(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", max_package_files=5)
    files = {**BASIC, **{f"data/{i}.txt": b"x" for i in range(10)}}

    message = rejected(build_archive(tmp_path / "p.tar.gz", files), settings, PackageTooLarge)
    assert "more than 5 files" in message


def test_same_path_archived_twice_is_rejected(tmp_path: Path, settings: Settings) -> None:
    again = tarfile.TarInfo("model.py")
    archive = build_archive(tmp_path / "p.tar.gz", BASIC, extra=[again])

    assert "'model.py' clashes" in rejected(archive, settings)


def test_missing_model_yaml_is_rejected(tmp_path: Path, settings: Settings) -> None:
    archive = build_archive(tmp_path / "p.tar.gz", {"model.py": MODEL_PY})

    assert "no model.yaml" in rejected(archive, settings)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"entrypoint: [unclosed\n", "not valid YAML"),
        (b"- model.py:Sentiment\n", "must be a mapping"),
        (b"", "must be a mapping"),
        (b"entrypoint: \x80\x81\n", "not valid YAML"),
    ],
    ids=["bad-yaml", "list", "empty", "not-utf8"],
)
def test_model_yaml_that_is_not_a_mapping_is_rejected(
    tmp_path: Path, settings: Settings, content: bytes, expected: str
) -> None:
    archive = build_archive(tmp_path / "p.tar.gz", {**BASIC, "model.yaml": content})

    assert expected in rejected(archive, settings)


def test_unknown_field_in_model_yaml_is_named(tmp_path: Path, settings: Settings) -> None:
    yaml_text = MODEL_YAML + b"replicas: 3\n"
    archive = build_archive(tmp_path / "p.tar.gz", {**BASIC, "model.yaml": yaml_text})

    with pytest.raises(PackageInvalid) as caught:
        unpack_package(archive, settings)

    assert "unknown field 'replicas'" in caught.value.message
    assert "replicas" in caught.value.fields
    assert_nothing_written(settings)


def test_invalid_resources_are_named(tmp_path: Path, settings: Settings) -> None:
    yaml_text = b"entrypoint: model.py:Sentiment\nresources: {cpu: lots, gpus: 1}\n"
    archive = build_archive(tmp_path / "p.tar.gz", {**BASIC, "model.yaml": yaml_text})

    with pytest.raises(PackageInvalid) as caught:
        unpack_package(archive, settings)

    assert set(caught.value.fields) == {"resources.cpu", "resources.gpus"}
    assert "invalid CPU quantity 'lots'" in caught.value.message
    assert_nothing_written(settings)


@pytest.mark.parametrize(
    "entrypoint",
    [
        "model.py",
        "model.py:",
        "model.txt:Sentiment",
        "../model.py:Sentiment",
        "/abs/model.py:A",
        "model.py:1Sentiment",
        "model.py:class",
        "a/../model.py:Sentiment",
    ],
)
def test_malformed_entrypoint_is_rejected(
    tmp_path: Path, settings: Settings, entrypoint: str
) -> None:
    yaml_text = f"entrypoint: '{entrypoint}'\n".encode()
    archive = build_archive(tmp_path / "p.tar.gz", {**BASIC, "model.yaml": yaml_text})

    assert "entrypoint" in rejected(archive, settings)


def test_entrypoint_in_a_subfolder_is_accepted(tmp_path: Path, settings: Settings) -> None:
    files = {
        "model.yaml": b"entrypoint: src/app/model.py:Sentiment\n",
        "src/app/model.py": MODEL_PY,
    }

    package = unpack_package(build_archive(tmp_path / "p.tar.gz", files), settings)

    assert package.manifest.entrypoint_file == "src/app/model.py"


def test_missing_entrypoint_file_is_rejected(tmp_path: Path, settings: Settings) -> None:
    archive = build_archive(tmp_path / "p.tar.gz", {"model.yaml": MODEL_YAML, "other.py": b""})

    assert "entrypoint file 'model.py' is not in the package" in rejected(archive, settings)


def test_named_requirements_file_must_exist(tmp_path: Path, settings: Settings) -> None:
    yaml_text = MODEL_YAML + b"requirements: requirements/prod.txt\n"
    archive = build_archive(tmp_path / "p.tar.gz", {**BASIC, "model.yaml": yaml_text})

    assert "'requirements/prod.txt' is not in the package" in rejected(archive, settings)


def test_requirements_txt_is_used_when_present(tmp_path: Path, settings: Settings) -> None:
    files = {**BASIC, "requirements.txt": b"numpy==2.1.0\n"}

    package = unpack_package(build_archive(tmp_path / "p.tar.gz", files), settings)

    assert package.manifest.requirements == "requirements.txt"
    assert package.requirements_hash is not None
    assert package.requirements_hash.startswith("sha256:")


def test_model_yaml_id_must_match(tmp_path: Path, settings: Settings) -> None:
    yaml_text = MODEL_YAML + b"id: sentiment\n"
    archive = build_archive(tmp_path / "p.tar.gz", {**BASIC, "model.yaml": yaml_text})

    message = rejected(archive, settings, model_id="translation")

    assert "'sentiment'" in message
    assert "'translation'" in message
    assert unpack_package(archive, settings, model_id="sentiment").manifest.id == "sentiment"
    assert unpack_package(build_archive(tmp_path / "b.tar.gz", BASIC), settings, model_id="x")


def test_requirements_hash_ignores_comments_and_order(tmp_path: Path, settings: Settings) -> None:
    plain = b"numpy==2.1.0\ntorch>=2.3\n"
    noisy = b"# serving deps\n\n  torch>=2.3   # for the model\n\nnumpy==2.1.0\n"
    other = b"numpy==2.1.1\ntorch>=2.3\n"

    def requirements_hash(name: str, text: bytes) -> str | None:
        files = {**BASIC, "requirements.txt": text}
        return unpack_package(build_archive(tmp_path / name, files), settings).requirements_hash

    assert requirements_hash("a.tar.gz", plain) == requirements_hash("b.tar.gz", noisy)
    assert requirements_hash("c.tar.gz", other) != requirements_hash("a.tar.gz", plain)
    assert requirements_hash("d.tar.gz", b"# nothing yet\n\n") is None


def test_normalized_archive_round_trips(tmp_path: Path, settings: Settings) -> None:
    files = {**BASIC, "bin/serve.sh": b"#!/bin/sh\n", "requirements.txt": b"numpy\n"}
    upload = build_archive(
        tmp_path / "p.tar.gz", files, top="mymodel", executable=["bin/serve.sh"], folders=["cache"]
    )
    package = unpack_package(upload, settings)

    again = unpack_package(package.archive, Settings(home=tmp_path / "other-home"))

    assert again.digest == package.digest
    assert again.archive.read_bytes() == package.archive.read_bytes()
    assert again.requirements_hash == package.requirements_hash
    assert (again.path / "cache").is_dir()
    assert (again.path / "bin/serve.sh").stat().st_mode & 0o777 == 0o755


def test_normalized_archive_has_no_times_or_owners(tmp_path: Path, settings: Settings) -> None:
    files = {**BASIC, "bin/serve.sh": b"#!/bin/sh\n"}
    archive = build_archive(tmp_path / "p.tar.gz", files, executable=["bin/serve.sh"], owner=501)
    package = unpack_package(archive, settings)

    with tarfile.open(package.archive, "r:gz") as tar:
        members = tar.getmembers()

    assert [m.name for m in members] == ["bin/serve.sh", "model.py", "model.yaml"]
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, 0, "", "")}
    assert [m.mode for m in members] == [0o755, 0o644, 0o644]


def test_package_path_rejects_a_malformed_digest(settings: Settings) -> None:
    with pytest.raises(PackageInvalid):
        package_path(settings, "sha256:../../etc")
    with pytest.raises(PackageInvalid):
        package_archive(settings, "deadbeef")


def test_manifest_defaults_are_usable() -> None:
    manifest = ModelManifest(entrypoint="model.py:Sentiment")

    assert manifest.id is None
    assert manifest.requirements is None
    assert manifest.resources.accelerators == 0
