"""Ways to make the emulator misbehave the way the real service does, so tests can cover the bad days.

Every switch lives on one :class:`Faults` object per server (``server.faults``) and can also be set from
another process with ``POST /_emulator/faults`` (same names, JSON body; ``DELETE /_emulator/faults`` resets):

============================  =====================================================================
``annotations = False``       replies carry no annotations at all (files show up only in listings)
``link_style = "…"``          how default replies write links: ``standard`` (``sandbox:/mnt/data/x``),
                              ``double_slash`` (``sandbox://mnt/data/x``), ``triple_slash``
                              (``sandbox:///mnt/data/x``), ``short`` (``sandbox:/x``), ``percent``
                              (percent-encoded names) or ``none`` (files are not mentioned by link)
``delay = 0.2``               seconds added to every API request; ``delayed`` counts the requests
                              delayed and ``peak_delayed`` the most delayed at once (tests assert
                              concurrency with it, never durations)
``fail_next(n, status=…)``    the next ``n`` API requests fail with ``status`` (429 carries a
                              ``retry-after-ms`` of ``retry_after`` seconds, 0.01 by default, so the SDK's
                              own retries stay fast, and ``retry-after`` rounded up to whole seconds;
                              ``should_retry`` sets ``x-should-retry``)
``truncate_downloads(n)``     the next ``n`` content downloads announce the full ``Content-Length`` but
                              stop after ``fraction`` of the bytes and close the connection
``stall_downloads(n)``        the next ``n`` content downloads send ``after`` bytes (0 by default), then
                              nothing more, holding the connection open until the client gives up
``expire_container(id)``      expire one container now (``None``: every running container)
``expire_after_responses(n)`` the container used by the ``n``-th next response expires as soon as that
                              response finishes (a container dying mid-conversation)
============================  =====================================================================

Non-ASCII and spaced file names need no switch: code that writes ``/mnt/data/résumé 1.csv`` gets exactly
that name, and ``link_style = "percent"`` writes it percent-encoded. The ``/_emulator`` control endpoint
itself is never delayed or failed.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from openai_artifacts_nb.local.reply import LINK_STYLES


@dataclass(frozen=True)
class InjectedFailure:
    """One deliberate error reply: status, and the retry headers to send with it."""

    status: int
    retry_after: float | None
    should_retry: bool | None


class Faults:
    """The misbehaviour switches of one emulator (thread-safe; see the module docstring for the list)."""

    def __init__(
        self,
        *,
        request_delay: float = 0.0,
        expire: Callable[[str | None], list[str]] = lambda _container_id: [],
    ) -> None:
        """Start well-behaved apart from ``request_delay``; ``expire`` expires containers on request."""
        self._lock = threading.Lock()
        self._expire = expire
        self._base_delay = request_delay
        self.reset()

    def reset(self) -> None:
        """Turn every fault off (the per-request delay returns to the server's configured value)."""
        with self._lock:
            self.delay = self._base_delay
            self.annotations = True
            self._link_style = "standard"
            self._failures: list[InjectedFailure] = []
            self._truncations: list[float] = []
            self._stalls: list[int] = []
            self._expire_countdown: int | None = None
            self.delayed = 0
            self.peak_delayed = 0
            self._delaying = 0

    @contextlib.contextmanager
    def delaying(self) -> Iterator[None]:
        """Count one request for as long as its delay lasts (``delayed``, ``peak_delayed``)."""
        with self._lock:
            self.delayed += 1
            self._delaying += 1
            self.peak_delayed = max(self.peak_delayed, self._delaying)
        try:
            yield
        finally:
            with self._lock:
                self._delaying -= 1

    @property
    def link_style(self) -> str:
        """How default replies write ``sandbox:`` links (one of ``reply.LINK_STYLES``)."""
        return self._link_style

    @link_style.setter
    def link_style(self, style: str) -> None:
        if style not in LINK_STYLES:
            raise ValueError(f"unknown link_style {style!r}; choose one of {', '.join(LINK_STYLES)}")
        self._link_style = style

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 500,
        retry_after: float | None = 0.01,
        should_retry: bool | None = None,
    ) -> None:
        """Make the next ``count`` API requests fail with ``status``."""
        if not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error status, not {status}")
        with self._lock:
            self._failures.extend([InjectedFailure(status, retry_after, should_retry)] * count)

    def take_failure(self) -> InjectedFailure | None:
        """Return the failure the current request must suffer, if any (used by the server)."""
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    def truncate_downloads(self, count: int = 1, *, fraction: float = 0.5) -> None:
        """Cut the next ``count`` content downloads off after ``fraction`` of their bytes."""
        if not 0.0 <= fraction < 1.0:
            raise ValueError("fraction must be at least 0 and below 1")
        with self._lock:
            self._truncations.extend([fraction] * count)

    def take_truncation(self) -> float | None:
        """Return the fraction of bytes the current download may send, or None to send all."""
        with self._lock:
            return self._truncations.pop(0) if self._truncations else None

    def stall_downloads(self, count: int = 1, *, after: int = 0) -> None:
        """The next ``count`` content downloads go silent after ``after`` bytes, until the client leaves."""
        if after < 0:
            raise ValueError("after must be at least 0")
        with self._lock:
            self._stalls.extend([after] * count)

    def take_stall(self) -> int | None:
        """Return after how many bytes the current download must go silent, or None (used by the server)."""
        with self._lock:
            return self._stalls.pop(0) if self._stalls else None

    def expire_container(self, container_id: str | None = None) -> list[str]:
        """Expire ``container_id`` now (every running container if None); return the ids expired."""
        return self._expire(container_id)

    def expire_after_responses(self, count: int = 1) -> None:
        """Expire the container of the ``count``-th next response as soon as it finishes."""
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._expire_countdown = count

    def take_response_expiry(self) -> bool:
        """Count one finished response; True when its container must now expire (used by the server)."""
        with self._lock:
            if self._expire_countdown is None:
                return False
            self._expire_countdown -= 1
            if self._expire_countdown > 0:
                return False
            self._expire_countdown = None
            return True

    def describe(self) -> dict[str, Any]:
        """Return the current settings as JSON (what ``GET /_emulator/faults`` shows)."""
        with self._lock:
            return {
                "delay": self.delay,
                "annotations": self.annotations,
                "link_style": self._link_style,
                "pending_failures": [f.status for f in self._failures],
                "pending_truncations": len(self._truncations),
                "pending_stalls": len(self._stalls),
                "expire_after_responses": self._expire_countdown,
            }

    def apply(self, settings: dict[str, Any]) -> dict[str, Any]:
        """Apply settings sent to ``POST /_emulator/faults`` and return :meth:`describe` plus what expired."""
        expired: list[str] = []
        if settings.get("reset"):
            self.reset()
        if "delay" in settings:
            self.delay = float(settings["delay"])
        if "annotations" in settings:
            self.annotations = bool(settings["annotations"])
        if "link_style" in settings:
            self.link_style = str(settings["link_style"])
        if "fail_next" in settings:
            spec = dict(settings["fail_next"])
            self.fail_next(
                int(spec.get("count", 1)),
                status=int(spec.get("status", 500)),
                retry_after=None
                if spec.get("retry_after", 0.01) is None
                else float(spec.get("retry_after", 0.01)),
                should_retry=spec.get("should_retry"),
            )
        if "truncate_downloads" in settings:
            spec = dict(settings["truncate_downloads"])
            self.truncate_downloads(int(spec.get("count", 1)), fraction=float(spec.get("fraction", 0.5)))
        if "stall_downloads" in settings:
            spec = dict(settings["stall_downloads"])
            self.stall_downloads(int(spec.get("count", 1)), after=int(spec.get("after", 0)))
        if "expire_after_responses" in settings:
            self.expire_after_responses(int(settings["expire_after_responses"]))
        if "expire_container" in settings:
            target = settings["expire_container"]
            expired = self.expire_container(None if target in (None, "all") else str(target))
        return {**self.describe(), "expired": expired}
