"""Cassettes: a recorded API session in a folder, written by the recorder and read by the replay server.

A cassette is a folder::

    cassette.json      {"format": "openai-artifacts-cassette", "version": 1, "created": ISO time,
                        "recorded_with": "openai-artifacts-nb X.Y", "base_path": "/v1",
                        "exchanges": N, "files": M, "notes": [...]}
    exchanges.jsonl    one JSON object per request/response exchange, in the order the requests were sent
    files/<sha256>     every response body that is a file (downloads), stored once by the hash of its bytes

An exchange line::

    {"seq": 3, "at": 1767225600.123,
     "request":  {"method": "POST", "path": "/responses", "query": [["limit", "100"]],
                  "headers": {"content-type": "application/json"}, "json": {...} | null},
     "response": {"status": 200, "headers": {"content-type": "text/event-stream"}, "kind": "sse",
                  "events": [{"t": 0.012, "event": "response.created", "data": {...}}, ...]}}

``path`` is relative to the API base URL (``/v1`` is in ``base_path``); ``at`` is the unix time the request
was sent (the replay server shifts recorded timestamps by it, see :mod:`openai_artifacts_nb.replay_server`).
The response ``kind`` says where its body is: ``"json"`` (``"json": value``), ``"sse"`` (``"events"``, each
with ``t``, seconds since the request was sent, its ``event`` name and its ``data`` parsed as JSON, or
``"raw"`` when it is not JSON), ``"file"`` (``"file": {"sha256": ..., "bytes": N}``, the bytes in ``files/``)
or ``"empty"``. Request bodies that are not JSON (multipart uploads) are not stored: only their content type.

Nothing secret is written. Headers pass an allowlist (no ``Authorization``, organization, project, cookie
or any other header), query values named like keys, tokens or signatures are replaced, and every line
passes :func:`openai_artifacts_nb.client.redact_secrets` with the bearer token that was sent. File bytes are
stored exactly as downloaded (a replay must give the same bytes).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from openai_artifacts_nb.client import redact_secrets
from openai_artifacts_nb.errors import ConfigurationError

__all__ = [
    "FORMAT",
    "VERSION",
    "Cassette",
    "CassetteWriter",
    "FileSink",
    "prompt_text",
]

FORMAT = "openai-artifacts-cassette"
VERSION = 1
INDEX = "cassette.json"
EXCHANGES = "exchanges.jsonl"
FILES = "files"

#: The only headers a cassette keeps; all others (auth, org, project, cookies, client details) are dropped.
REQUEST_HEADERS = frozenset({"content-type", "accept", "openai-beta"})
RESPONSE_HEADERS = frozenset({"content-type", "content-disposition", "openai-version"})
_SECRET_QUERY = ("key", "token", "secret", "sig", "password", "auth")
_MIN_TOKEN = 8  # a shorter "key" (``local``) is no secret, and replacing it would corrupt ordinary text


def scrub_headers(headers: Iterable[tuple[str, str]], keep: frozenset[str]) -> dict[str, str]:
    """Return the allowlisted headers, names lower-cased."""
    return {name.lower(): value for name, value in headers if name.lower() in keep}


def scrub_query(pairs: Iterable[tuple[str, str]]) -> list[list[str]]:
    """Return the query pairs with values of key-, token- or signature-like names replaced."""
    return [
        [name, "[redacted]" if any(word in name.lower() for word in _SECRET_QUERY) else value]
        for name, value in pairs
    ]


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header, when long enough to be worth redacting."""
    if not authorization or not authorization.lower().startswith("bearer "):
        return None
    token = authorization[7:].strip()
    return token if len(token) >= _MIN_TOKEN else None


def prompt_text(body: object) -> str | None:
    """The prompt text of a ``POST /responses`` body (``input`` as a string or as message parts), or None."""
    if not isinstance(body, Mapping) or "input" not in body:
        return None
    value = body["input"]
    if isinstance(value, str):
        return value
    parts: list[str] = []
    for item in value if isinstance(value, list) else []:
        content = item.get("content") if isinstance(item, Mapping) else item
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts += [str(part.get("text", "")) for part in content if isinstance(part, Mapping)]
    return "\n".join(parts)


def normalise_prompt(text: str | None) -> str | None:
    """``text`` with runs of whitespace collapsed and case folded: what prompt matching compares."""
    return None if text is None else " ".join(text.split()).casefold()


@dataclass
class FileSink:
    """A response body written to ``files/`` as it streams, hashed on the way, placed by hash at the end."""

    folder: Path
    _handle: IO[bytes] = field(init=False)
    _temp: Path = field(init=False)
    _hash: Any = field(init=False)
    size: int = 0

    def __post_init__(self) -> None:
        """Open the temporary file."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._temp = self.folder / f".part-{uuid.uuid4().hex}"
        self._handle = self._temp.open("wb")
        self._hash = hashlib.sha256()

    def write(self, chunk: bytes) -> None:
        """Append ``chunk``."""
        self._handle.write(chunk)
        self._hash.update(chunk)
        self.size += len(chunk)

    def finish(self) -> str:
        """Close the file, move it to ``files/<sha256>`` (kept once if already there); return the hash."""
        self._handle.close()
        digest = str(self._hash.hexdigest())
        target = self.folder / digest
        if target.exists():
            self._temp.unlink()
        else:
            self._temp.replace(target)
        return digest

    def discard(self) -> None:
        """Close and delete the partial file."""
        self._handle.close()
        self._temp.unlink(missing_ok=True)


class CassetteWriter:
    """Writes a cassette folder; safe to use from many threads (downloads run in parallel).

    The folder is a valid cassette from the first exchange on (each exchange is appended as it completes),
    so a kernel that dies mid-recording still leaves something to replay; :meth:`close` sorts the
    exchanges by the order their requests were sent and writes the final index.
    """

    def __init__(
        self, folder: str | os.PathLike[str], *, base_path: str = "/v1", notes: Iterable[str] = ()
    ) -> None:
        """Start a cassette in ``folder`` (created; an existing cassette there is replaced)."""
        from openai_artifacts_nb import __version__

        self.folder = Path(folder).expanduser().resolve()
        if self.folder.exists() and any(self.folder.iterdir()) and not (self.folder / INDEX).is_file():
            raise ConfigurationError(f"{folder}: the folder exists and is not a cassette; choose another.")
        (self.folder / FILES).mkdir(parents=True, exist_ok=True)
        for old in (self.folder / FILES).iterdir():
            old.unlink()
        self.base_path = "/" + base_path.strip("/") if base_path.strip("/") else ""
        self._lock = threading.Lock()
        self._seq = 0
        self._count = 0
        self._tokens: set[str] = set()
        self._closed = False
        self._index: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "recorded_with": f"openai-artifacts-nb {__version__}",
            "base_path": self.base_path,
            "notes": list(notes),
        }
        (self.folder / EXCHANGES).write_text("", encoding="utf-8")
        self._write_index()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` ran (later exchanges are not written)."""
        return self._closed

    def next_seq(self, token: str | None = None) -> int:
        """Number the next request (in the order requests are sent); remember its bearer token to redact."""
        with self._lock:
            if token:
                self._tokens.add(token)
            self._seq += 1
            return self._seq - 1

    def file_sink(self) -> FileSink:
        """A sink for one file body, written straight to ``files/``."""
        return FileSink(self.folder / FILES)

    def add(self, exchange: dict[str, Any]) -> None:
        """Append one finished exchange (secrets redacted on the way)."""
        line = self._redact(json.dumps(exchange, ensure_ascii=False, sort_keys=True))
        with self._lock:
            if self._closed:
                return
            with (self.folder / EXCHANGES).open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
            self._count += 1

    def close(self) -> Path:
        """Sort the exchanges by request order, write the index, return the folder (safe to call twice)."""
        with self._lock:
            if self._closed:
                return self.folder
            self._closed = True
            path = self.folder / EXCHANGES
            lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            lines.sort(key=lambda line: int(json.loads(line)["seq"]))
            path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
            self._write_index()
        return self.folder

    @staticmethod
    def finalize(folder: str | os.PathLike[str]) -> Path:
        """Sort and count the exchanges of a cassette its recorder could not close (a kernel that exited)."""
        path = Path(folder).expanduser().resolve()
        lines = [line for line in (path / EXCHANGES).read_text(encoding="utf-8").splitlines() if line.strip()]
        lines.sort(key=lambda line: int(json.loads(line)["seq"]))
        (path / EXCHANGES).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        index = json.loads((path / INDEX).read_text(encoding="utf-8"))
        index["exchanges"] = len(lines)
        index["files"] = sum(1 for file in (path / FILES).iterdir() if not file.name.startswith("."))
        (path / INDEX).write_text(json.dumps(index, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
        return path

    def _redact(self, text: str) -> str:
        for token in self._tokens:
            text = text.replace(token, "[redacted]")
        return redact_secrets(text)

    def _write_index(self) -> None:
        files = [path for path in (self.folder / FILES).iterdir() if not path.name.startswith(".")]
        index = {**self._index, "exchanges": self._count, "files": len(files)}
        text = self._redact(json.dumps(index, indent=2, ensure_ascii=False, sort_keys=True))
        (self.folder / INDEX).write_text(text + "\n", encoding="utf-8")


@dataclass(frozen=True)
class Cassette:
    """A cassette read from its folder: its index and its exchanges in request order."""

    folder: Path
    index: dict[str, Any]
    exchanges: list[dict[str, Any]]

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> Cassette:
        """Read the cassette in ``folder``; a missing or foreign folder raises :class:`ConfigurationError`."""
        path = Path(folder).expanduser().resolve()
        try:
            index = json.loads((path / INDEX).read_text(encoding="utf-8"))
            lines = (path / EXCHANGES).read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            raise ConfigurationError(f"{folder}: not a cassette (no {INDEX} and {EXCHANGES}).") from None
        except (OSError, ValueError) as error:
            raise ConfigurationError(f"{folder}: unreadable cassette ({error}).") from None
        if not isinstance(index, dict) or index.get("format") != FORMAT:
            raise ConfigurationError(f"{folder}: {INDEX} is not an openai-artifacts cassette.")
        if int(index.get("version", 0)) > VERSION:
            raise ConfigurationError(
                f"{folder}: cassette version {index.get('version')} is newer than this version reads "
                f"({VERSION}); upgrade openai-artifacts-nb."
            )
        try:
            exchanges = [json.loads(line) for line in lines if line.strip()]
        except ValueError as error:
            raise ConfigurationError(f"{folder}: a line of {EXCHANGES} is not JSON ({error}).") from None
        exchanges.sort(key=lambda exchange: int(exchange.get("seq", 0)))
        return cls(path, index, exchanges)

    def file_path(self, sha256: str) -> Path:
        """Where the bytes with this hash are stored (the hash is checked to be one, not a path)."""
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ConfigurationError(f"{self.folder}: {sha256!r} is not a sha256 file reference.")
        return self.folder / FILES / sha256


def now() -> float:
    """The wall clock, rounded to milliseconds (what ``at`` records)."""
    return round(time.time(), 3)
