"""The emulator's working parts in one place: the store, the kernels, the faults and the time limit.

Routes and runners receive one :class:`EmulatorService`. Its :meth:`~EmulatorService.run_code` is the one
path by which code runs in a container, for the Responses API and the Assistants API alike: it snapshots the
container folder, runs the code in the container's kernel and registers every new or changed file and every
displayed image as a container file (``source: "assistant"``). A file the code rewrites gets a fresh
container-file id (the old id then answers 404), so each turn's citations point at that turn's bytes.

Projects: each API key of a class server is a project of its own, as upstream. Every project has its own
:class:`~openai_artifacts_nb.local.state.EmulatorState` (containers, files, responses and everything else
stored), so one project's ids are simply unknown (404) to another. :meth:`EmulatorService.for_project`
returns the service as that project sees it; without keys there is one project, :data:`DEFAULT_PROJECT`,
and ``service.state`` is its store.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from openai_artifacts_nb.local.confinement import Bubblewrap
from openai_artifacts_nb.local.faults import Faults
from openai_artifacts_nb.local.ids import new_id
from openai_artifacts_nb.local.sandbox import CodeResult, Sandboxes
from openai_artifacts_nb.local.state import Container, ContainerFile, EmulatorState, StoredFile
from openai_artifacts_nb.local.workspace import changed_files, copy_stream, safe_filename, snapshot

DEFAULT_PROJECT = "default"
LOG = logging.getLogger("openai_artifacts_nb.local")


@dataclass
class CodeRun:
    """One code call's result and the container files it produced."""

    result: CodeResult
    files: list[ContainerFile] = field(default_factory=list)
    images: list[ContainerFile] = field(default_factory=list)


class EmulatorService:
    """State, sandboxes and faults of one emulator, and the operations that need more than one of them."""

    def __init__(
        self,
        root: Path,
        *,
        idle_seconds: float,
        exec_timeout: float,
        request_delay: float,
        confine: Bubblewrap | None = None,
        cpu_seconds: float | None = None,
    ) -> None:
        """Keep files under ``root``; containers idle ``idle_seconds`` expire; calls last ``exec_timeout``.

        ``confine`` runs every kernel in a bubblewrap sandbox; ``cpu_seconds`` limits each call's CPU time.
        """
        self.exec_timeout = exec_timeout
        self.project = DEFAULT_PROJECT
        self.sandboxes = Sandboxes(root / "sandbox", confine=confine, cpu_seconds=cpu_seconds)
        self._store = root / "store"
        self._idle_seconds = idle_seconds
        self._projects: dict[str, EmulatorService] = {}
        self._projects_lock = threading.Lock()
        self.state = self._new_state(self._store)
        self._projects[DEFAULT_PROJECT] = self
        self.faults = Faults(request_delay=request_delay, expire=self.expire)

    def _new_state(self, folder: Path) -> EmulatorState:
        return EmulatorState(
            folder, idle_seconds=self._idle_seconds, on_container_stopped=self.sandboxes.shutdown
        )

    def for_project(self, project: str) -> EmulatorService:
        """Return this service as ``project`` sees it: the same kernels and faults, its own store."""
        with self._projects_lock:
            view = self._projects.get(project)
            if view is None:
                view = copy.copy(self)
                view.project = project
                view.state = self._new_state(self._store / "projects" / str(len(self._projects)))
                self._projects[project] = view
        return view

    def _states(self) -> list[EmulatorState]:
        with self._projects_lock:
            return [view.state for view in self._projects.values()]

    def expire(self, container_id: str | None) -> list[str]:
        """Expire one container now, or every running one when ``container_id`` is None (any project)."""
        if container_id is None:
            return [found for state in self._states() for found in state.expire_all_containers()]
        return [container_id] if any(s.expire_container(container_id) for s in self._states()) else []

    def expire_idle_containers(self) -> list[str]:
        """Expire every container idle too long, in every project (the periodic sweep)."""
        expired = [found for state in self._states() for found in state.expire_idle_containers()]
        for container_id in expired:
            LOG.info("container %s expired after its idle time; its kernel stopped", container_id)
        return expired

    def run_code(self, container: Container, code: str) -> CodeRun:
        """Run ``code`` in ``container``'s kernel and register the files it wrote and the images it showed."""
        with container.run_lock:
            self.state.touch(container)
            before = snapshot(container.data_dir)
            try:
                result = self.sandboxes.run(
                    container.id,
                    container.data_dir,
                    code,
                    timeout=self.exec_timeout,
                    memory_limit=container.memory_limit,
                )
            except Exception as error:  # a broken sandbox is reported in the logs, as upstream
                result = CodeResult(logs=f"The sandbox could not run the code: {error}", error=True)
            run = CodeRun(result)
            if not container.active:
                return run
            for relative_path in changed_files(before, snapshot(container.data_dir)):
                with contextlib.suppress(FileNotFoundError):
                    run.files.append(
                        self.state.register_container_file(container, relative_path, source="assistant")
                    )
            for png in result.images:
                file_id = new_id("cfile")
                (container.data_dir / f"{file_id}.png").write_bytes(png)
                run.images.append(
                    self.state.register_container_file(
                        container, f"{file_id}.png", source="assistant", file_id=file_id
                    )
                )
            self.state.touch(container)
        return run

    def copy_file_into(self, container: Container, stored: StoredFile) -> ContainerFile:
        """Copy a Files object into ``container`` at ``/mnt/data/<its filename>`` (``source: "user"``)."""
        name = safe_filename(stored.filename)
        with stored.disk_path.open("rb") as source:
            copy_stream(source, container.data_dir / name)
        self.state.touch(container)
        return self.state.register_container_file(container, name, source="user")

    def close(self) -> None:
        """Stop every kernel."""
        self.sandboxes.shutdown_all()
