"""The magic's recorder and player: ``%openai record PATH | record stop | replay PATH | replay stop``.

:class:`TapeDeck` holds the cassette being recorded and the replay server being used, and tells the magic
how to build its client: through a recording transport while recording, at the replay server's URL (with
no key) while replaying. It also honours the environment, so headless runs need no code in the notebook:

- ``OPENAI_ARTIFACTS_BACKEND=replay:PATH`` replays the cassette at ``PATH``;
- ``OPENAI_ARTIFACTS_REPLAY_SPEED=N`` replays N times faster (0: no waits) and
  ``OPENAI_ARTIFACTS_REPLAY_FALLBACK=local`` answers prompts the cassette lacks with the emulator;
- ``OPENAI_ARTIFACTS_RECORD=PATH`` records every exchange into ``PATH`` from the first cell on.

Nothing heavy is imported here until a command or a cell needs it, so ``%load_ext`` stays cheap.
"""

from __future__ import annotations

import atexit
import math
import os
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from openai_artifacts_nb.errors import ConfigurationError

__all__ = ["FALLBACK_ENV", "RECORD_ENV", "REPLAY_PREFIX", "SPEED_ENV", "TapeDeck", "replay_environment"]

BACKEND_ENV = "OPENAI_ARTIFACTS_BACKEND"
REPLAY_PREFIX = "replay:"
RECORD_ENV = "OPENAI_ARTIFACTS_RECORD"
SPEED_ENV = "OPENAI_ARTIFACTS_REPLAY_SPEED"
FALLBACK_ENV = "OPENAI_ARTIFACTS_REPLAY_FALLBACK"

USAGE = "%openai record PATH | record stop | replay PATH [--speed N] [--fallback local] | replay stop"


def _speed(text: str | None) -> float:
    if text is None or not text.strip():
        return 1.0
    try:
        value = float(text)
    except ValueError:
        raise ConfigurationError(f"--speed {text}: not a number.") from None
    if not math.isfinite(value) or value < 0:
        raise ConfigurationError(f"--speed {text}: use 0 (no waits) or a positive number.")
    return value


def _fallback(text: str | None) -> str:
    value = (text or "none").strip().lower() or "none"
    if value not in {"none", "local"}:
        raise ConfigurationError(f"--fallback {text}: use local (the emulator answers) or none.")
    return value


def replay_environment(
    *,
    record: str | os.PathLike[str] | None = None,
    replay: str | os.PathLike[str] | None = None,
    speed: float | None = None,
    fallback: str | None = None,
    local: bool = False,
) -> dict[str, str]:
    """The environment variables that make a kernel's magic record or replay (``openai-artifacts run``)."""
    env: dict[str, str] = {}
    if replay is not None:
        if local:
            raise ConfigurationError("--replay and --local exclude each other: a replay needs no emulator.")
        folder = Path(replay).expanduser().resolve()
        from openai_artifacts_nb.cassette import Cassette

        Cassette.load(folder)  # a wrong folder is one line here, not a failed cell
        env[BACKEND_ENV] = f"{REPLAY_PREFIX}{folder}"
    elif speed is not None or fallback is not None:
        raise ConfigurationError("--speed and --fallback go with --replay PATH.")
    if speed is not None:
        env[SPEED_ENV] = str(_speed(str(speed)))
    if fallback is not None:
        env[FALLBACK_ENV] = _fallback(fallback)
    if record is not None:
        env[RECORD_ENV] = str(Path(record).expanduser().resolve())
    return env


class TapeDeck:
    """The cassette being recorded and the replay server in use, for one magic instance."""

    def __init__(self) -> None:
        """Start with nothing recorded and nothing replayed."""
        self._writer: Any = None
        self._server: Any = None
        self._replaying: tuple[str, float, str] | None = None
        self._env_replay: str | None = None
        self._env_record_seen = False
        self._generation = 0

    @property
    def recording(self) -> Path | None:
        """The folder being recorded into, if any."""
        return None if self._writer is None else Path(self._writer.folder)

    @property
    def replaying(self) -> Path | None:
        """The cassette being replayed, if any."""
        return None if self._replaying is None else Path(self._replaying[0])

    def command(self, line: str) -> tuple[str, bool]:
        """Run ``record ...`` or ``replay ...``; return the message to show and whether to reset the session.

        Bad input raises :class:`ConfigurationError` (one line).
        """
        try:
            words = shlex.split(line)
        except ValueError as error:
            raise ConfigurationError(f"%openai {line.strip()}: {error}.") from None
        if len(words) < 2:
            raise ConfigurationError(f"%openai {' '.join(words)}: needs a folder or stop ({USAGE}).")
        verb, target, rest = words[0], words[1], words[2:]
        if verb == "record":
            if rest:
                raise ConfigurationError(f"%openai record {target}: unexpected {' '.join(rest)} ({USAGE}).")
            if target == "stop":
                folder = self.stop_recording()
                if folder is None:
                    return "Nothing was being recorded.", False
                return f"Recording stopped: the cassette is in {folder}.", False
            folder = self.start_recording(target)
            return f"Recording every API exchange of the following cells into {folder}.", False
        if target == "stop":
            stopped = self.stop_replay()
            return ("Replay stopped." if stopped else "Nothing was being replayed."), stopped
        options = dict(zip(rest[::2], rest[1::2], strict=False))
        unknown = [name for name in options if name not in {"--speed", "--fallback"}]
        if unknown or len(rest) % 2:
            raise ConfigurationError(f"%openai replay {target}: unexpected {' '.join(rest)} ({USAGE}).")
        url = self.start_replay(
            target, speed=_speed(options.get("--speed")), fallback=options.get("--fallback")
        )
        return f"Replaying {target} at {url} (no key, no network).", True

    def start_recording(self, folder: str) -> Path:
        """Record every exchange of the following cells into ``folder`` (a cassette there is replaced)."""
        from openai_artifacts_nb.cassette import CassetteWriter

        self.stop_recording()
        self._writer = CassetteWriter(folder)
        self._generation += 1
        atexit.register(self.stop_recording)
        return Path(self._writer.folder)

    def stop_recording(self) -> Path | None:
        """Close the cassette being recorded (its index written); return its folder."""
        writer, self._writer = self._writer, None
        if writer is None:
            return None
        atexit.unregister(self.stop_recording)
        return Path(writer.close())

    def start_replay(self, folder: str, *, speed: float = 1.0, fallback: str | None = None) -> str:
        """Serve the cassette in ``folder`` and point the magic at it; return the server's base URL."""
        try:
            import starlette  # noqa: F401
            import uvicorn  # noqa: F401
        except ImportError as error:
            raise ConfigurationError(
                f"Replaying needs the 'local' extra: pip install 'openai-artifacts-nb[local]' ({error})."
            ) from None
        from openai_artifacts_nb.replay_server import CassetteServer

        server = CassetteServer(folder, speed=speed, fallback=_fallback(fallback))
        self.stop_replay()
        self._server = server
        self._replaying = (str(Path(folder).expanduser()), speed, _fallback(fallback))
        atexit.register(self.stop_replay)
        return server.start()

    def stop_replay(self) -> bool:
        """Stop the replay server, if one runs; return whether one did."""
        server, self._server, self._replaying = self._server, None, None
        self._env_replay = None
        if server is None:
            return False
        atexit.unregister(self.stop_replay)
        server.stop()
        return True

    def base_url(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The replay server's URL when replaying (started here for ``OPENAI_ARTIFACTS_BACKEND=replay:…``)."""
        env = os.environ if environ is None else environ
        backend = env.get(BACKEND_ENV, "").strip()
        if backend.lower().startswith(REPLAY_PREFIX) and (
            self._server is None or self._env_replay is not None
        ):
            folder = backend[len(REPLAY_PREFIX) :].strip()
            if not folder:
                raise ConfigurationError(f"{BACKEND_ENV}=replay: needs a cassette folder (replay:PATH).")
            if self._env_replay != folder:
                self.start_replay(folder, speed=_speed(env.get(SPEED_ENV)), fallback=env.get(FALLBACK_ENV))
                self._env_replay = folder
        if env.get(RECORD_ENV, "").strip() and not self._env_record_seen:
            self._env_record_seen = True
            self.start_recording(env[RECORD_ENV].strip())
        return None if self._server is None else str(self._server.base_url)

    def client_options(self) -> dict[str, Any]:
        """Extra ``make_client`` options: the recording transport, and no key when replaying."""
        options: dict[str, Any] = {}
        if self._server is not None:
            from openai_artifacts_nb.client import PLACEHOLDER_API_KEY

            options["api_key"] = PLACEHOLDER_API_KEY
        if self._writer is not None:
            from openai_artifacts_nb.recording import recording_http_client

            options["http_client"] = recording_http_client(self._writer)
        return options

    def client_tag(self) -> str:
        """Part of the magic's client cache key: a new client when recording starts or stops."""
        return f"#record-{self._generation}" if self._writer is not None else ""

    def describe(self) -> str:
        """`` · recording into X`` / `` · replaying Y`` for ``%openai status`` (empty when neither)."""
        parts = []
        if self.replaying is not None:
            parts.append(f"replaying {self.replaying}")
        if self.recording is not None:
            parts.append(f"recording into {self.recording}")
        return "".join(f" · {part}" for part in parts)

    def close(self) -> None:
        """Close the cassette being recorded and stop the replay server."""
        self.stop_recording()
        self.stop_replay()
