"""The ``openai-artifacts`` command: ``serve``, ``fetch``, ``run``, ``demo`` and ``cassette convert``.

Each subcommand parses its flags here and hands them to one plain function in the module that does the
work, so the CLI stays a thin adapter and every command is testable without a subprocess.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from openai_artifacts_nb import __version__
from openai_artifacts_nb.errors import ArtifactsError


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for ``openai-artifacts``."""
    parser = argparse.ArgumentParser(
        prog="openai-artifacts",
        description="Save every file an OpenAI model made, and run the local OpenAI emulator.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the local OpenAI emulator until interrupted")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8765, help="port to listen on, 0 for any (default: 8765)")
    serve.add_argument(
        "--idle-minutes",
        type=float,
        default=20.0,
        help="minutes a container may stay idle before it expires (default: 20)",
    )
    serve.add_argument("--replay", default=None, metavar="CASSETTE", help="serve a recorded cassette instead")
    _replay_flags(serve)
    serve.add_argument(
        "--keys",
        default=None,
        metavar="FILE|auto",
        help="API keys, one a line, each its own project (unknown keys get 401); 'auto' writes "
        "--students fresh keys to ./class-keys.txt. Needed for any --host beyond loopback",
    )
    serve.add_argument("--students", type=int, default=30, help="keys --keys auto writes (default: 30)")
    serve.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="another host name clients may use in their URL (repeatable)",
    )
    serve.add_argument(
        "--sandbox",
        choices=["auto", "bwrap", "none"],
        default="auto",
        help="confine container code with bubblewrap: auto (if it works here), bwrap (required), none",
    )
    serve.add_argument(
        "--cpu-seconds", type=float, default=120.0, help="CPU time allowed per code call (default: 120)"
    )

    fetch = commands.add_parser("fetch", help="save the files of replies, containers, threads or files")
    fetch.add_argument(
        "ids",
        nargs="+",
        metavar="ID",
        help="resp_…, conv_…, cntr_…, thread_… or file-… id, or a saved Response JSON file",
    )
    fetch.add_argument(
        "--out",
        required=True,
        help="folder to save into (created if missing), or object storage: s3://bucket/prefix "
        "(the [s3] extra; credentials from AWS_* variables)",
    )
    fetch.add_argument("--base-url", default=None, help="API base URL (default: $OPENAI_BASE_URL or OpenAI)")

    run = commands.add_parser("run", help="execute a notebook headless with the extension")
    run.add_argument("notebook", help="path of the .ipynb to execute")
    run.add_argument("--local", action="store_true", help="use the embedded local emulator, no key needed")
    run.add_argument("--output", default=None, help="where to write the executed notebook")
    run.add_argument("--timeout", type=float, default=600.0, help="seconds allowed per cell (default: 600)")
    run.add_argument("--record", default=None, metavar="CASSETTE", help="record every API exchange there")
    run.add_argument(
        "--replay", default=None, metavar="CASSETTE", help="replay a cassette: no key, no network"
    )
    _replay_flags(run)

    cassette = commands.add_parser("cassette", help="work with recorded sessions (cassettes)")
    cassette_commands = cassette.add_subparsers(dest="cassette_command", required=True, metavar="ACTION")
    convert = cassette_commands.add_parser("convert", help="make a cassette of a captured reply")
    convert.add_argument("source", help="a .chunks.txt (one SSE data JSON per line) or a Response .json")
    convert.add_argument("out", help="the cassette folder to write")
    convert.add_argument("--prompt", default=None, help="the prompt it answered (default: matches any)")

    commands.add_parser("demo", help="run the quickstart notebook on the local emulator")
    return parser


def _replay_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--speed", type=float, default=None, help="with --replay: N times the recorded pace, 0 for no waits"
    )
    parser.add_argument(
        "--fallback",
        choices=["none", "local"],
        default=None,
        help="with --replay: who answers unknown prompts",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``openai-artifacts`` with ``argv`` and return its exit status.

    Everything it writes to stdout and stderr is redacted (the key in ``OPENAI_API_KEY`` and anything
    key-shaped); an unexpected error is one line, its traceback going to the package's (redacted) log.
    """
    import os

    from openai_artifacts_nb.redaction import logger, one_line_error, redacted_streams

    args = build_parser().parse_args(argv)
    secret = os.environ.get("OPENAI_API_KEY")
    with redacted_streams(secret):
        try:
            return _run(args)
        except Exception as error:
            logger(secret=secret).debug("openai-artifacts failed", exc_info=True)
            sys.stderr.write(f"openai-artifacts: unexpected error: {one_line_error(error, secret)}\n")
            return 1


def _run(args: argparse.Namespace) -> int:
    try:
        if args.command == "serve" and args.replay:
            from openai_artifacts_nb.replay_server import serve_replay_command

            return int(
                serve_replay_command(
                    args.replay,
                    host=args.host,
                    port=args.port,
                    speed=1.0 if args.speed is None else args.speed,
                    fallback=args.fallback or "none",
                )
            )
        if args.command == "cassette":
            from openai_artifacts_nb.cassette_convert import convert_command

            return int(convert_command(args.source, args.out, prompt=args.prompt))
        if args.command == "serve":
            from openai_artifacts_nb.local.access import load_keys
            from openai_artifacts_nb.local.server import serve_command

            try:
                keys = load_keys(args.keys, students=args.students)
            except (OSError, ValueError) as error:
                sys.stderr.write(f"openai-artifacts serve: {error}\n")
                return 1
            return int(
                serve_command(
                    host=args.host,
                    port=args.port,
                    idle_minutes=args.idle_minutes,
                    keys=keys,
                    allow_hosts=tuple(args.allow_host),
                    confine={"auto": None, "bwrap": True, "none": False}[args.sandbox],
                    cpu_seconds=args.cpu_seconds,
                )
            )
        if args.command == "fetch":
            return int(fetch_command(args.ids, out=args.out, base_url=args.base_url))
        if args.command == "run":
            from openai_artifacts_nb.runner import run_command

            return int(
                run_command(
                    args.notebook,
                    local=args.local,
                    output=args.output,
                    timeout=args.timeout,
                    record=args.record,
                    replay=args.replay,
                    speed=args.speed,
                    fallback=args.fallback,
                )
            )
        from openai_artifacts_nb.runner import demo_command

        return int(demo_command())
    except ArtifactsError as error:
        sys.stderr.write(f"openai-artifacts: {error}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("openai-artifacts: interrupted\n")
        return 130


#: What ``openai-artifacts fetch`` accepts, said when an argument is none of it.
FETCH_ACCEPTS = (
    "fetch takes resp_…, conv_…, cntr_…, thread_… or file-… ids, or the path of a saved Response JSON file"
)

#: The no-key message in the CLI's own terms (the library's names the notebook's ``%openai local``).
CLI_MISSING_CREDENTIALS = (
    "No OpenAI API key: set OPENAI_API_KEY, or give --base-url (or OPENAI_BASE_URL) for a compatible "
    "server, such as the local emulator that `openai-artifacts serve` runs."
)


def fetch_command(ids: Sequence[str], *, out: str, base_url: str | None) -> int:
    """Run ``openai-artifacts fetch``: save the files of each id into ``out``; return the exit status.

    Each argument is an id or the path of a saved reply (Response JSON, streamed events). For a reply, a
    conversation or a thread, ``out/.openai-artifacts/<id>.md`` gets the text with rewritten links (in the
    tool's folder beside the manifest, so a model's own ``<id>.md`` keeps its bytes). Each failure is one
    line on stderr; the status is 0 only when everything was saved. An ``out`` folder this command made
    stays only if something was saved into it.
    """
    from pathlib import Path

    from openai_artifacts_nb.client import make_client
    from openai_artifacts_nb.collect import id_kind
    from openai_artifacts_nb.errors import ConfigurationError

    sources: list[tuple[str, str]] = []
    for identifier in ids:
        if id_kind(identifier) is not None:
            sources.append((identifier.strip(), identifier))
        elif Path(identifier).is_file():
            sources.append((Path(identifier).stem, Path(identifier).read_text(encoding="utf-8")))
        else:
            raise ArtifactsError(f"{identifier}: not an id or a file; {FETCH_ACCEPTS}.")
    try:
        client = make_client(base_url=base_url)
    except ConfigurationError:
        raise ConfigurationError(CLI_MISSING_CREDENTIALS) from None
    folder = Path(out)
    made_folder = "://" not in out and not folder.exists()  # object storage has no folder to remove
    status = 0
    try:
        for name, source in sources:
            status |= _fetch_one(name, source, client=client, out=out)
    finally:
        if made_folder and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return status


def _fetch_one(name: str, source: str, *, client: Any, out: str) -> int:
    from pathlib import Path, PurePosixPath

    from openai_artifacts_nb.fetching import fetch
    from openai_artifacts_nb.manifest import TOOL_DIR, write_atomically
    from openai_artifacts_nb.naming import safe_filename

    try:
        # Links are written for the text file, which lives in the tool's folder beside the manifest.
        link_base = None if "://" in out else Path(out) / TOOL_DIR
        result = fetch(source, out_dir=out, client=client, link_base=link_base)
    except ArtifactsError as error:
        message = str(error)
        # The engine's messages about an id already start with it.
        sys.stderr.write(
            f"openai-artifacts: {message if message.startswith(name) else f'{name}: {message}'}\n"
        )
        return 1
    status = 0
    for artifact in result.artifacts:
        local = result.location is None and artifact.path.is_relative_to(result.out_dir)
        shown = PurePosixPath(artifact.path.relative_to(result.out_dir)) if local else artifact.relative_path
        sys.stdout.write(f"{shown}\t{artifact.size}\t{artifact.mime_type}\n")
    if result.source_kind in ("response", "conversation", "thread") and result.text:
        text_name = safe_filename(f"{name}.md")
        if result.location is not None:  # object storage: the text goes beside the files
            from openai_artifacts_nb.object_store import write_text

            write_text(result.location, text_name, result.text + "\n")
            sys.stdout.write(f"{text_name}\ttext with rewritten links\n")
        else:
            text_path = result.manifest_path.parent / text_name
            try:
                text_path.parent.mkdir(exist_ok=True)
                write_atomically(text_path, (result.text + "\n").encode("utf-8"))
            except OSError as error:
                sys.stderr.write(f"openai-artifacts: {text_path} could not be written: {error.strerror}\n")
                status = 1
            else:
                sys.stdout.write(f"{PurePosixPath(TOOL_DIR, text_path.name)}\ttext with rewritten links\n")
    for note in result.notes:
        sys.stderr.write(f"openai-artifacts: {note}\n")
    for failure in result.failures:
        sys.stderr.write(f"openai-artifacts: {failure.message}\n")
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
