"""``%%openai`` and ``%openai``: a thin adapter over the conversation session and the cell output.

Settings are traitlets (``%config OpenAIMagics.model = "gpt-4.1"`` or ``c.OpenAIMagics.model`` in
``ipython_config.py``). Bad input and API failures raise ``UsageError``: one line, no traceback. No trait,
repr or output ever holds an API key: the client reads it from the environment.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from IPython.core import magic_arguments as _arguments
from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from traitlets import Bool, Enum, Int, TraitError, Unicode, observe, validate

from openai_artifacts_nb.client import BACKEND_ENV
from openai_artifacts_nb.errors import ArtifactsError
from openai_artifacts_nb.tape_deck import TapeDeck

if TYPE_CHECKING:
    from openai import OpenAI

    from openai_artifacts_nb.session import ConversationSession

__all__ = ["BACKEND_ENV", "OpenAIMagics"]


_F = TypeVar("_F", bound=Callable[..., Any])
# IPython's argument decorators are untyped: applying them through _flags keeps the magics typed.
argument: Any = _arguments.argument
magic_arguments: Any = _arguments.magic_arguments
magic_kind: Any = {"cell": cell_magic, "line": line_magic}


def _flags(*decorators: Any) -> Callable[[_F], _F]:
    """Apply IPython's (untyped) decorators, outermost first, keeping the function's type."""

    def apply(function: _F) -> _F:
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return apply


@magics_class
class OpenAIMagics(Magics):
    """Run prompts with OpenAI's code interpreter; every file the model makes is saved, shown and linked."""

    model = Unicode("gpt-4.1", help="Model for %%openai cells (per cell: --model).").tag(config=True)
    instructions = Unicode(
        "", help="System instructions sent with every prompt (per cell: --instructions)."
    ).tag(config=True)
    artifacts_dir = Unicode(
        "",
        help="Folder for saved files; empty means <notebook name>_artifacts/ beside the notebook. "
        "s3://bucket/prefix saves to object storage (the [s3] extra; credentials and endpoint from "
        "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL).",
    ).tag(config=True)
    artifacts_link_lifetime = Int(
        3600, help="Seconds a presigned link to a file in object storage stays valid."
    ).tag(config=True)
    artifacts_public_links = Bool(
        False, help="Link files in object storage by their plain URL (a public bucket), not presigned."
    ).tag(config=True)
    stream = Bool(True, help="Stream replies as they are written (per cell: --no-stream).").tag(config=True)
    preview_rows = Int(20, help="Rows shown of a table file (CSV, TSV, XLSX, JSON, Parquet).").tag(
        config=True
    )
    preview_columns = Int(20, help="Columns shown of a table file.").tag(config=True)
    preview_lines = Int(200, help="Lines shown of a text or code file.").tag(config=True)
    image_max_pixels = Int(
        1600, help="Images wider or taller are downscaled for display (full file on disk)."
    ).tag(config=True)
    embed_max_bytes = Int(
        64 * 1024, help="Files up to this size also get a data-URI download link that works anywhere."
    ).tag(config=True)
    backend = Enum(
        ["auto", "openai", "local"],
        "auto",
        help="'local': the embedded emulator; 'openai': OPENAI_API_KEY / OPENAI_BASE_URL; "
        f"'auto': local when {BACKEND_ENV}=local, else openai ({BACKEND_ENV}=openai also overrides "
        "%openai local).",
    ).tag(config=True)
    download_buttons = Bool(True, help="Show a download button (ipywidgets) under each saved file.").tag(
        config=True
    )
    display_hook = Bool(
        True, help="Show any OpenAI reply a cell displays (Response, stream, messages) with its files saved."
    ).tag(config=True)
    tools = Unicode(
        "code_interpreter",
        help="Tools for %%openai cells, comma-separated: code_interpreter, shell, image_generation "
        "(per cell: --tools).",
    ).tag(config=True)
    container_memory = Enum(
        ["", "1g", "4g", "16g", "64g"], "", help="Memory of a new container (per cell: --container-memory)."
    ).tag(config=True)
    network_policy = Unicode(
        "",
        help="A new container's network: 'disabled' or 'allowlist:DOMAIN,...' (per cell: --network-policy).",
    ).tag(config=True)
    conversation_state = Enum(
        ["previous_response_id", "conversation"],
        "previous_response_id",
        help="How turns are chained: previous_response_id, or a Conversations API conversation.",
    ).tag(config=True)

    @validate("tools")
    def _known_tools(self, proposal: Any) -> str:
        from openai_artifacts_nb.tools import parse_tools

        try:
            return ",".join(parse_tools(str(proposal["value"])))
        except ArtifactsError as error:
            raise TraitError(str(error)) from None

    @observe("display_hook")
    def _toggle_display_hook(self, change: Any) -> None:
        # %config reaches every OpenAIMagics the shell ever held; only the loaded one owns the hook.
        registry = getattr(getattr(self.shell, "magics_manager", None), "registry", {})
        if self._hook is None or registry.get(type(self).__name__) is not self:
            return
        if change["new"]:
            self._hook.install()
        else:
            self._hook.remove()

    @validate(
        "preview_rows", "preview_columns", "preview_lines", "image_max_pixels", "artifacts_link_lifetime"
    )
    def _positive(self, proposal: Any) -> int:
        if int(proposal["value"]) < 1:
            raise TraitError(f"{proposal['trait'].name} must be at least 1")
        return int(proposal["value"])

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self._session: ConversationSession | None = None
        self._server: Any = None
        self._clients: dict[str, OpenAI] = {}
        self._told_where = False
        self._stopped = False  # %openai stop ran: a cell that needs the emulator again says so
        self._staging: Path | None = None  # staged copies of files in object storage, for previews
        self._tape = TapeDeck()  # %openai record / replay, OPENAI_ARTIFACTS_BACKEND=replay:PATH
        self._hook: Any = None
        if shell is not None:
            from openai_artifacts_nb.display_hook import DisplayHook

            self._hook = DisplayHook(shell, self.show_reply)

    def install_display_hook(self) -> None:
        """Register the display hook unless ``OpenAIMagics.display_hook`` is off (``%load_ext`` does it)."""
        if self._hook is not None and self.display_hook:
            self._hook.install()

    def remove_display_hook(self) -> None:
        """Remove the display hook from the shell's formatters (``%unload_ext`` does this)."""
        if self._hook is not None:
            self._hook.remove()

    def show_reply(self, source: Any) -> Any:
        """Save and show ``source`` (a reply in any shape, or an id) in this cell; return the result."""
        from openai_artifacts_nb.display_hook import show_reply

        location, out_dir = self._where(None)
        return show_reply(
            source, client=self._client, out_dir=out_dir, link_base=location.folder, options=self._options()
        )

    def _options(self, *, quiet: bool = False) -> Any:
        from openai_artifacts_nb import cell_output
        from openai_artifacts_nb.previews import PreviewLimits

        return cell_output.DisplayOptions(
            live=self._live(),
            buttons=bool(self.download_buttons),
            quiet=quiet,
            limits=PreviewLimits(
                rows=self.preview_rows,
                columns=self.preview_columns,
                text_lines=self.preview_lines,
                image_max_pixels=self.image_max_pixels,
                data_uri_max_bytes=self.embed_max_bytes,
            ),
        )

    def _tool_options(self, args: Any) -> Any:
        from openai_artifacts_nb.tools import ToolOptions, parse_network_policy, parse_tools

        try:
            return ToolOptions(
                names=parse_tools(args.tools or self.tools),
                memory_limit=args.container_memory or self.container_memory or None,
                network_policy=parse_network_policy(args.network_policy or self.network_policy or None),
            )
        except ArtifactsError as error:
            raise UsageError(str(error)) from None

    @property
    def session(self) -> ConversationSession:
        """The conversation (previous response, container, uploaded inputs), made when first needed."""
        if self._session is None:
            # Imported here, not at load: session pulls in rendering, and %load_ext must stay cheap.
            from openai_artifacts_nb.session import ConversationSession

            self._session = ConversationSession()
        return self._session

    @_flags(
        magic_arguments(name="%openai"),
        argument("--model", "-m", default=None, help="model for this cell (default: OpenAIMagics.model)"),
        argument(
            "--file", "-f", action="append", default=[], metavar="PATH", help="upload PATH into the container"
        ),
        argument(
            "--new", action="store_true", help="start a new conversation (and container) with this cell"
        ),
        argument("--no-stream", action="store_true", help="wait for the whole reply instead of streaming it"),
        argument(
            "--out",
            "-o",
            default=None,
            metavar="VAR",
            help="store the result (text, files, ids, usage) in VAR",
        ),
        argument("--instructions", default=None, help="system instructions for this cell"),
        argument("--dir", default=None, metavar="DIR", help="save this cell's files to DIR"),
        argument(
            "--quiet", "-q", action="store_true", help="show only the text and the usage line, no previews"
        ),
        argument(
            "--tools",
            default=None,
            metavar="LIST",
            help="comma-separated: code_interpreter, shell, image_generation (default: OpenAIMagics.tools)",
        ),
        argument(
            "--container-memory",
            default=None,
            choices=["1g", "4g", "16g", "64g"],
            help="memory of a new container",
        ),
        argument(
            "--network-policy",
            default=None,
            metavar="POLICY",
            help="network of a new container: disabled, or allowlist:DOMAIN[,DOMAIN...]",
        ),
        argument("prompt", nargs="*", help="prompt text (the cell body is appended)"),
        magic_kind["cell"],
    )
    def openai(self, line: str, cell: str) -> None:
        """Send the cell as a prompt to the code interpreter; stream the reply; save, show and link its files.

        ``{name}`` in the prompt is replaced by the value of ``name`` (``{{`` for a literal brace);
        fenced code blocks are left as they are. Follow-up cells continue the conversation in the same
        container. Flags on the first line are expanded like any magic's (``--out {name}``).
        """
        args = self._parse(line)
        from openai_artifacts_nb import cell_output

        tool_options = self._tool_options(args)
        prompt = self.prompt_text(" ".join(args.prompt), cell)
        if args.new:
            self.session.reset()
        client = self._client()
        location, out_dir = self._where(args.dir)
        options = self._options(quiet=args.quiet)
        try:
            result = cell_output.run_and_show(
                self.session,
                prompt,
                client=client,
                model=args.model or self.model,
                instructions=args.instructions
                if args.instructions is not None
                else (self.instructions or None),
                files=args.file,
                stream=self.stream and not args.no_stream,
                out_dir=out_dir,
                link_base=location.folder,
                options=options,
                label=f"cell-{self._shell.execution_count}",  # names its figures: cell-3-figure-1.png
                tools=tool_options,
                conversation_state=self.conversation_state,
            )
        except ArtifactsError as error:
            raise UsageError(_with_notebook_hint(error)) from None
        except Exception as error:  # never a raw traceback: it could carry the key
            from openai_artifacts_nb.redaction import unexpected

            raise UsageError(unexpected(error, getattr(client, "api_key", None))) from None
        if (
            not self._told_where
            and not location.found
            and result.artifacts
            and out_dir == location.artifacts_dir
        ):
            # Said once, and only when files did go to the fallback folder (not with --dir or a setting).
            cell_output.show_notice(location.describe())
            self._told_where = True
        if args.out:
            self._shell.user_ns[args.out] = result

    @_flags(magic_kind["line"]("openai"))
    def openai_line(self, line: str) -> Any:
        """``%openai local | stop | reset | status | help | record | replay | fetch``: backend, state, files.

        local   start the embedded emulator and use it (no key, no network; OPENAI_ARTIFACTS_BACKEND=openai
                keeps OPENAI_BASE_URL instead, as a class hub sets it)
        stop    stop the embedded emulator (and any recording or replay)
        record PATH | record stop   record every API exchange of the following cells into a cassette
        replay PATH [--speed N] [--fallback local] | replay stop   replay a cassette (no key, no network)
        reset   forget the conversation: the next cell starts fresh, in a new container
        fetch ID [ID...]   save and show the files of resp_…, conv_…, cntr_…, thread_… or file-… here
        status  show the model, the conversation, the container and where files go
        """
        from openai_artifacts_nb.render import Notice

        command = (line.strip().split() or ["status"])[0]
        if command == "local":
            if self._replay_url() is not None:
                return Notice(f"Replaying {self._tape.replaying}: no emulator needed.", prefix="openai:")
            if os.environ.get(BACKEND_ENV, "").strip().lower() == "openai":
                # A hub (or any admin) pinned the backend: a class notebook's `%openai local` uses its server.
                where = os.environ.get("OPENAI_BASE_URL") or "OpenAI"
                message = f"{BACKEND_ENV}=openai: using {where}, not the local emulator."
                return Notice(message, prefix="openai:")
            if not self._use_local():
                self.session.reset()  # a conversation on another server cannot continue here
            self.backend = "local"
            return Notice(f"Using the local emulator at {self._local_base_url()}.", prefix="openai:")
        if command == "stop":
            self.close()
            return Notice("The local emulator is stopped.", prefix="openai:")
        if command == "reset":
            self.session.reset()
            return Notice("New conversation: the next cell starts fresh.", prefix="openai:")
        if command == "status":
            return Notice(self._status(), prefix="openai:")
        if command in {"record", "replay"}:
            try:
                message, reset = self._tape.command(line)
            except ArtifactsError as error:
                raise UsageError(str(error)) from None
            if reset:
                self.session.reset()  # the recorded conversation is another server's
            return Notice(message, prefix="openai:")
        if command == "fetch":
            ids = line.strip().split()[1:]
            if not ids:
                raise UsageError("%openai fetch needs an id: resp_…, conv_…, cntr_…, thread_… or file-….")
            for identifier in ids:
                self.show_reply(self._fetch_source(identifier))
            return None
        if command == "help":
            return Notice(" ".join((self.openai_line.__doc__ or "").split()), prefix="openai:")
        raise UsageError(
            f"%openai {command}: unknown command; "
            "use local, stop, reset, status, help, record, replay or fetch."
        )

    def _fetch_source(self, identifier: str) -> Any:
        """A response id is read whole (its code runs are shown too); other ids are fetched as they are."""
        from openai_artifacts_nb.collect import id_kind

        kind = id_kind(identifier)
        if kind is None:
            raise UsageError(
                f"%openai fetch {identifier}: not an id (expected resp_…, conv_…, cntr_…, thread_…, file-…)."
            )
        if kind != "response":
            return identifier
        import openai

        from openai_artifacts_nb.session import INCLUDE, api_error

        client = self._client()
        try:
            return client.responses.retrieve(identifier, include=INCLUDE)  # type: ignore[arg-type]
        except openai.OpenAIError as error:
            raise UsageError(
                _with_notebook_hint(api_error(error, api_key=client.api_key, base_url=str(client.base_url)))
            ) from None

    def _parse(self, line: str) -> Any:
        import shlex

        try:
            argv = shlex.split(line)
        except ValueError as error:
            raise UsageError(f"%%openai {line.strip()}: {error}.") from None
        # IPython's own parse_argstring keeps quotes; shlex gives the shell's meaning of 'data set.csv'.
        return self.openai.parser.parse_args(argv)  # type: ignore[attr-defined]

    @property
    def _shell(self) -> Any:
        if self.shell is None:
            raise UsageError("OpenAIMagics needs an IPython shell: use %load_ext openai_artifacts_nb.")
        return self.shell

    def close(self) -> None:
        """Stop the embedded emulator, if this instance started one, and any replay or recording."""
        server, self._server = self._server, None
        clients, self._clients = list(self._clients.values()), {}
        self._tape.close()
        for client in clients:
            client.close()
        if server is not None:
            atexit.unregister(self.close)
            server.stop()
            self._stopped = True
            self.session.reset()  # its responses and containers are gone with it

    @property
    def local_server(self) -> Any:
        """The embedded emulator (a ``LocalServer``) while it runs, else ``None``."""
        return self._server

    def prompt_text(self, head: str, cell: str) -> str:
        """The prompt a cell sends: the words after ``%%openai`` and the cell, ``{name}`` filled from the
        user's namespace (raises ``UsageError`` for an unknown name or an empty prompt)."""
        from openai_artifacts_nb.interpolation import interpolate

        text = "\n".join(part for part in (head.strip(), cell.strip("\n")) if part.strip())
        if not text.strip():
            raise UsageError("%%openai needs a prompt: write it in the cell under %%openai.")
        try:
            return interpolate(text, self._shell.user_ns)
        except KeyError as error:
            raise UsageError(
                f"{{{error.args[0]}}} in the prompt: no such variable "
                f"(write {{{{ and }}}} for literal braces)."
            ) from None
        except Exception as error:
            raise UsageError(f"Could not fill in the prompt: {type(error).__name__}: {error}") from None

    def _use_local(self) -> bool:
        if self.backend == "auto":
            return os.environ.get(BACKEND_ENV, "").strip().lower() == "local"
        return bool(self.backend == "local")

    def _local_base_url(self) -> str:
        if self._server is None:
            try:
                from openai_artifacts_nb.local import LocalServer
            except ImportError as error:
                raise UsageError(
                    "The local emulator needs the 'local' extra: "
                    f"pip install 'openai-artifacts-nb[local]' ({error})."
                ) from None
            server = LocalServer()
            server.start()
            self._server = server
            atexit.register(self.close)
            if self._stopped:
                from openai_artifacts_nb.cell_output import show_notice

                self._stopped = False
                show_notice(
                    f"Started a new local emulator at {server.base_url}; the conversation starts fresh."
                )
        return str(self._server.base_url)

    def _replay_url(self) -> str | None:
        try:
            return self._tape.base_url()
        except ArtifactsError as error:
            raise UsageError(str(error)) from None

    def _client(self) -> OpenAI:
        from openai_artifacts_nb.client import make_client
        from openai_artifacts_nb.errors import ConfigurationError

        base_url = self._replay_url() or (self._local_base_url() if self._use_local() else None)
        key = (base_url or "environment") + self._tape.client_tag()
        if key not in self._clients or base_url is None:
            try:
                client = make_client(base_url=base_url, **self._tape.client_options())
            except ConfigurationError as error:
                raise UsageError(str(error)) from None
            # The environment may have changed since the last cell; its old client's sockets go with it.
            previous = self._clients.pop(key, None)
            if previous is not None:
                previous.close()
            self._clients[key] = client
        return self._clients[key]

    def _where(self, folder: str | None) -> tuple[Any, Any]:
        from openai_artifacts_nb.notebook_path import find_notebook
        from openai_artifacts_nb.object_store import is_object_url

        location = find_notebook(namespace=self._shell.user_ns)
        chosen = folder or self.artifacts_dir
        if chosen and is_object_url(chosen):
            return location, self._object_store(chosen)
        if chosen:
            path = Path(chosen).expanduser()
            return location, path if path.is_absolute() else location.folder / path
        return location, location.artifacts_dir

    def _object_store(self, url: str) -> Any:
        """The object store for ``url``, staging in a folder that lives as long as the kernel (previews)."""
        import shutil
        import tempfile

        from openai_artifacts_nb.object_store import ObjectStore

        if self._staging is None:
            self._staging = Path(tempfile.mkdtemp(prefix="openai-artifacts-staging-"))
            atexit.register(shutil.rmtree, self._staging, ignore_errors=True)
        try:
            store = ObjectStore(
                url.strip(),
                links="public" if self.artifacts_public_links else "presigned",
                link_lifetime=self.artifacts_link_lifetime,
            )
        except ArtifactsError as error:
            raise UsageError(str(error)) from None
        return store.staging_for(self._staging)

    def _live(self) -> bool:
        return getattr(self.shell, "kernel", None) is not None

    def _status(self) -> str:
        location, out_dir = self._where(None)
        backend = "local emulator" if self._use_local() else "OpenAI (OPENAI_API_KEY / OPENAI_BASE_URL)"
        if self._server is not None:
            backend += f" at {self._server.base_url}"
        backend += self._tape.describe()
        state = self.session
        conversation = f"continuing {state.previous_response_id}" if state.previous_response_id else "new"
        if state.conversation_id:
            conversation = f"in {state.conversation_id}"
        inputs = ", ".join(item.path.name for item in state.inputs) or "none"
        out_dir = getattr(out_dir, "url", out_dir)
        return (
            f"model {self.model} · backend {backend} · conversation {conversation} ({state.turns} turns) · "
            f"container {state.container_id or 'none yet'} · inputs {inputs} · files go to {out_dir}"
            + ("" if location.found else " (notebook not found)")
        )


def _with_notebook_hint(error: ArtifactsError) -> str:
    """The error as one line, with what to do about it in a notebook (the core's hints fit any caller)."""
    from openai_artifacts_nb.errors import ApiError

    if not isinstance(error, ApiError):
        return str(error)
    if error.status == 401 or (error.status is None and "reach" in str(error.args[0])):
        return str(error.with_hint("`%openai local` runs the local emulator, with no key and no network."))
    if error.status is not None and (error.status >= 500 or error.status == 429):
        return str(error.with_hint("When it passes, run the cell again."))
    return str(error)
