"""Artifacts in object storage: ``fetch(..., out_dir="s3://bucket/prefix")`` through fsspec.

:func:`~openai_artifacts_nb.fetching.fetch` saves into a local *staging* folder exactly as it does on disk
(streamed ``.part`` files, safe names, sniffed types), then a :class:`Publication` uploads each placed file to
``<prefix>/<safe name>`` and the manifest last, at the same path below the prefix as on disk. What that gives:

- **Streamed, bounded memory.** A file is uploaded from its staged copy in parts of :data:`PART_BYTES`, at
  most :data:`PART_CONCURRENCY` at a time (s3fs's own defaults, 50 MiB x 10, would hold 500 MiB).
- **Nothing visible under its final key until it is whole.** A file is uploaded only once it is complete on
  disk, and S3 makes an object visible only when its ``PutObject`` or ``CompleteMultipartUpload`` ends;
  a failed multipart upload is aborted, leaving no object. An interrupt mid-upload leaves at most an
  unfinished multipart upload, never visible (a bucket's ``AbortIncompleteMultipartUpload`` rule reclaims it).
- **Never overwrites a different file.** A key that holds other bytes makes the file ``name (1).ext``, as
  on disk; a key that holds the same bytes (same size and ``sha256`` metadata) is not uploaded again.
- **Re-runs skip what is there.** The remote manifest is read first; a file it lists whose object is still
  there with the recorded size and SHA-256 is neither downloaded nor uploaded.
- **Links** are the object's URL: presigned (:attr:`ObjectStore.link_lifetime` seconds, stated on the
  file's card) or, with ``links="public"``, the plain URL of a public bucket.
- **Secrets** (``storage_options`` values, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``) are
  removed from every message; :class:`ObjectStore`'s repr leaves the options out.

Concurrent writers to one prefix may race on a name or on the manifest (S3 has no lock); the manifest is
re-read and merged just before it is written, which keeps that window small. fsspec and the backend (s3fs
for ``s3://``: the ``[s3]`` extra) are imported only when an object-store URL is used.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from openai_artifacts_nb.errors import ConfigurationError, DownloadError
from openai_artifacts_nb.manifest import Manifest, ManifestEntry
from openai_artifacts_nb.naming import numbered_name

if TYPE_CHECKING:
    from openai_artifacts_nb.fetching import ArtifactFailure, SavedArtifact

__all__ = ["PART_BYTES", "PART_CONCURRENCY", "ObjectStore", "Publication", "is_object_url", "write_text"]

#: Size of one part of a multipart upload (S3's minimum is 5 MiB).
PART_BYTES = 8 * 1024 * 1024
#: Parts uploaded at once: with :data:`PART_BYTES`, at most 16 MiB of a file read at a time.
PART_CONCURRENCY = 2
#: The user-metadata key holding an object's SHA-256 (S3: ``x-amz-meta-sha256``).
SHA256_METADATA = "sha256"
_SECRET_ENV = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID")
_SECRET_OPTIONS = (
    "secret",
    "token",
    "key",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_access_key_id",
)


def is_object_url(value: object) -> bool:
    """Whether ``value`` names object storage (``s3://…``, ``gs://…``, …) rather than a local folder."""
    if isinstance(value, ObjectStore):
        return True
    if not isinstance(value, str):
        return False
    scheme, sep, rest = value.strip().partition("://")
    # A one-letter scheme is a Windows drive (``C://x``), not a store.
    plain = scheme.isascii() and scheme.isalnum() and len(scheme) > 1
    return bool(sep and rest) and plain and scheme.lower() != "file"


@dataclass(frozen=True)
class ObjectStore:
    """Where ``fetch`` publishes: an fsspec URL (``s3://bucket/prefix``) and how to reach and link it.

    ``storage_options`` go to fsspec (s3fs: ``key``, ``secret``, ``endpoint_url``, ``client_kwargs``, …;
    without them s3fs reads ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` and ``AWS_ENDPOINT_URL``).
    ``links`` is ``"presigned"`` (valid ``link_lifetime`` seconds) or ``"public"`` (a public bucket).
    ``staging_dir`` keeps the staged copies (a notebook previews them); ``None`` stages in a temporary
    folder removed once the files are published.
    """

    url: str
    storage_options: Mapping[str, Any] = field(default_factory=dict, repr=False)
    links: Literal["presigned", "public"] = "presigned"
    link_lifetime: int = 3600
    staging_dir: Path | None = None

    def __post_init__(self) -> None:
        if not is_object_url(self.url):
            raise ConfigurationError(
                f"{self.url!r} is not an object-storage URL (such as s3://bucket/prefix)"
            )
        if self.links not in ("presigned", "public"):
            raise ConfigurationError(f"links must be 'presigned' or 'public', not {self.links!r}")
        if self.link_lifetime < 1:
            raise ConfigurationError("link_lifetime must be at least 1 second")

    @classmethod
    def coerce(cls, value: object, storage_options: Mapping[str, Any] | None = None) -> ObjectStore:
        """``value`` as an :class:`ObjectStore` (a URL gets ``storage_options``)."""
        if isinstance(value, ObjectStore):
            return replace(value, storage_options=storage_options) if storage_options else value
        return cls(str(value).strip(), storage_options=dict(storage_options or {}))

    def staging_for(self, root: Path) -> ObjectStore:
        """This store staging in a folder of its own below ``root`` (one per URL, so two never mix)."""
        digest = hashlib.sha256(self.url.rstrip("/").encode("utf-8")).hexdigest()[:16]
        return replace(self, staging_dir=root / digest)

    def secrets(self) -> list[str]:
        """The secret strings that must never appear in a message: option values and AWS variables."""
        found = [os.environ.get(name, "") for name in _SECRET_ENV]
        found += [
            str(value) for name, value in _flatten(self.storage_options) if name.lower() in _SECRET_OPTIONS
        ]
        return [secret for secret in found if len(secret) >= 4]

    def redact(self, text: str) -> str:
        """``text`` without any of :meth:`secrets`."""
        for secret in sorted(self.secrets(), key=len, reverse=True):
            text = text.replace(secret, "[redacted]")
        return text


def _flatten(options: Mapping[str, Any]) -> list[tuple[str, Any]]:
    pairs: list[tuple[str, Any]] = []
    for name, value in options.items():
        if isinstance(value, Mapping):
            pairs += _flatten(value)
        else:
            pairs.append((str(name), value))
    return pairs


def _problem(store: ObjectStore, error: BaseException) -> str:
    return store.redact(f"{type(error).__name__}: {error}")


class RemoteManifest(Manifest):
    """The staged copy of the remote manifest: a file counts as saved when its object is intact remotely."""

    def __init__(self, directory: Path, publication: Publication) -> None:
        """Read the manifest staged in ``directory``; check objects through ``publication``."""
        self._publication = publication
        super().__init__(directory)

    def existing_file(self, key: tuple[str, str]) -> tuple[ManifestEntry, Path] | None:
        """The entry and its staging path when the object it lists holds the recorded bytes."""
        entry = self.entries.get(key)
        if entry is None or not self._publication.holds(entry.path, entry.bytes, entry.sha256):
            return None
        return entry, self._publication.staging / entry.path


class Publication:
    """One ``fetch`` into object storage: the staging folder, the remote manifest, the uploads and links."""

    def __init__(self, store: ObjectStore) -> None:
        """Connect to ``store`` (fsspec and its backend are imported here) and make the staging folder."""
        self.store = store
        try:
            from fsspec.core import url_to_fs

            options = {"skip_instance_cache": True, **store.storage_options}
            self.fs, root = url_to_fs(store.url, **options)
        except ImportError as error:
            raise ConfigurationError(
                f"writing to {store.url.split('://')[0]}:// needs fsspec and its backend: "
                f"pip install 'openai-artifacts-nb[s3]' ({error})"
            ) from None
        except Exception as error:
            raise ConfigurationError(f"cannot use {store.url}: {_problem(store, error)}") from None
        self.root = str(root).rstrip("/")
        self._s3 = "s3" in _protocols(self.fs)
        if store.staging_dir is not None:
            self.staging = Path(store.staging_dir).expanduser().resolve()
            self.staging.mkdir(parents=True, exist_ok=True)
            self._temporary: Path | None = None
        else:
            self._temporary = self.staging = Path(tempfile.mkdtemp(prefix="openai-artifacts-staging-"))
        self._manifest_name = Manifest(self.staging).path.relative_to(self.staging).as_posix()

    def __enter__(self) -> Publication:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Remove the staging folder if it is a temporary one."""
        if self._temporary is not None:
            shutil.rmtree(self._temporary, ignore_errors=True)
            self._temporary = None

    @property
    def location(self) -> str:
        """The URL published to, ``s3://bucket/prefix``."""
        return self.fs.unstrip_protocol(self.root) if self.root else self.store.url

    def remote_path(self, relative: str) -> str:
        """The fsspec path of ``relative`` (POSIX, below the prefix)."""
        return f"{self.root}/{relative}" if self.root else relative

    def uri(self, relative: str) -> str:
        """The object's URL in fsspec's form, ``s3://bucket/prefix/name``."""
        return str(self.fs.unstrip_protocol(self.remote_path(relative)))

    def manifest(self) -> RemoteManifest:
        """Stage the remote manifest (if any) and read it."""
        self._get_manifest()
        return RemoteManifest(self.staging, self)

    def _get_manifest(self) -> None:
        local = self.staging / self._manifest_name
        local.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.fs.get_file(self.remote_path(self._manifest_name), str(local))
        except FileNotFoundError:
            local.unlink(missing_ok=True)
        except Exception as error:
            raise ConfigurationError(
                f"cannot read the manifest in {self.location}: {_problem(self.store, error)}"
            ) from None

    def _state(self, relative: str) -> tuple[int, str | None] | None:
        """(size, recorded SHA-256 or ``None``) of the object at ``relative``, ``None`` when absent."""
        path = self.remote_path(relative)
        try:
            info = self.fs.info(path, refresh=True) if self._s3 else self.fs.info(path)
        except FileNotFoundError:
            return None
        if info.get("type") != "file":
            return None
        sha = None
        if self._s3:
            sha = (self.fs.metadata(path) or {}).get(SHA256_METADATA)
        return int(info.get("size") or 0), sha

    def holds(self, relative: str, size: int, sha256: str) -> bool:
        """Whether the object at ``relative`` is there with ``size`` bytes and (where recorded) ``sha256``."""
        try:
            state = self._state(relative)
        except Exception:
            return False  # cannot tell: fetch and upload it again
        return state is not None and self._same(state, size, sha256)

    def _same(self, state: tuple[int, str | None], size: int, sha256: str) -> bool:
        # S3 objects we wrote carry their SHA-256; one without it (written by someone else) is not ours.
        return state[0] == size and (state[1] == sha256 or (state[1] is None and not self._s3))

    def publish(self, artifact: SavedArtifact) -> SavedArtifact:
        """Upload one staged file (unless its key holds the same bytes); return it with its object's link.

        Raises :class:`~openai_artifacts_nb.errors.DownloadError` when it cannot be uploaded.
        """
        relative = PurePosixPath(artifact.path.relative_to(self.staging).as_posix())
        name, number = relative.name, 0
        try:
            while True:
                candidate = str(relative.with_name(numbered_name(name, number) if number else name))
                state = self._state(candidate)
                if state is None:
                    self._upload(artifact.path, candidate, artifact.mime_type, artifact.sha256)
                    break
                if self._same(state, artifact.size, artifact.sha256):
                    break
                number += 1
        except Exception as error:
            raise DownloadError(
                f"{artifact.filename} could not be uploaded to {self.uri(str(relative))}: "
                f"{_problem(self.store, error)}",
                container_id=artifact.container_id,
                file_id=artifact.file_id,
            ) from None
        path = artifact.path
        if candidate != str(relative):
            path = self.staging / candidate
            artifact.path.replace(path)
        return self.linked(replace(artifact, path=path, filename=path.name), candidate)

    def linked(self, artifact: SavedArtifact, relative: str | None = None) -> SavedArtifact:
        """``artifact`` with its link pointing at its object (a file an earlier run published, too).

        With a kept staging folder (a notebook's), an object an earlier run published is copied there when
        missing, so it can be previewed (a temporary staging folder gets no copy: nothing would read it).
        """
        relative = relative or artifact.path.relative_to(self.staging).as_posix()
        if self._temporary is None and not artifact.path.exists():
            try:
                artifact.path.parent.mkdir(parents=True, exist_ok=True)
                self.fs.get_file(self.remote_path(relative), str(artifact.path))
            except Exception:
                artifact.path.unlink(
                    missing_ok=True
                )  # no preview then: the card says why; the link still works
        return replace(
            artifact,
            relative_path=self.link(relative),
            stored_at=self.uri(relative),
            link_lifetime=self.store.link_lifetime if self.store.links == "presigned" else None,
        )

    def link(self, relative: str) -> str:
        """The URL a browser opens for the object: presigned, or plain for a public bucket."""
        path = self.remote_path(relative)
        try:
            signed = str(self.fs.sign(path, expiration=self.store.link_lifetime))
        except NotImplementedError:
            return self.uri(relative)
        if self.store.links == "public":
            parts = urlsplit(signed)
            return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        return signed

    def _upload(self, local: Path, relative: str, mime_type: str, sha256: str | None) -> None:
        options: dict[str, Any] = {}
        if self._s3:
            # Parts are read one at a time from the staged file, PART_CONCURRENCY in flight.
            options = {"chunksize": PART_BYTES, "max_concurrency": PART_CONCURRENCY, "ContentType": mime_type}
            if sha256:
                options["Metadata"] = {SHA256_METADATA: sha256}
        self.fs.put_file(str(local), self.remote_path(relative), **options)

    def publish_manifest(self, manifest: Manifest, entries: list[ManifestEntry]) -> None:
        """Merge ``entries`` into the latest remote manifest and upload it, last of all."""
        self._get_manifest()
        before = _read_bytes(manifest.path)
        manifest.update(entries)
        if before is not None and _read_bytes(manifest.path) == before:
            return  # a re-run that changed nothing writes nothing
        try:
            self._upload(manifest.path, self._manifest_name, "application/json", None)
        except Exception as error:
            raise ConfigurationError(
                f"cannot write the manifest in {self.location}: {_problem(self.store, error)}"
            ) from None

    def failure(self, artifact: SavedArtifact, error: DownloadError) -> ArtifactFailure:
        """The failure of a file that could not be uploaded."""
        from openai_artifacts_nb.fetching import ArtifactFailure

        return ArtifactFailure(artifact.filename, artifact.container_id, artifact.file_id, error, str(error))


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = getattr(fs, "protocol", ())
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def write_text(
    location: str, name: str, text: str, *, storage_options: Mapping[str, Any] | None = None
) -> str:
    """Write ``text`` (UTF-8) as the object ``name`` below ``location``; return its ``s3://…`` URL."""
    store = ObjectStore.coerce(location, storage_options)
    with Publication(store) as publication:
        try:
            publication.fs.pipe_file(publication.remote_path(name), text.encode("utf-8"))
        except Exception as error:
            raise ConfigurationError(f"cannot write {name} in {location}: {_problem(store, error)}") from None
        return publication.uri(name)
