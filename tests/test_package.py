"""The package itself: cheap import, the error tree, the client factory and the CLI's shape."""

from __future__ import annotations

import subprocess
import sys

import pytest

import openai_artifacts_nb
from openai_artifacts_nb import errors
from openai_artifacts_nb.cli import build_parser, main
from openai_artifacts_nb.client import MISSING_CREDENTIALS, PLACEHOLDER_API_KEY, make_client


def test_import_is_lazy() -> None:
    code = (
        "import sys, openai_artifacts_nb\n"
        "heavy = [m for m in ('openai', 'ipywidgets', 'pandas', 'IPython', 'httpx') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_every_error_is_an_artifacts_error() -> None:
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.ArtifactsError)
    assert issubclass(errors.ContainerExpiredError, errors.DownloadError)
    assert issubclass(errors.FileMissingError, errors.DownloadError)


def test_download_error_names_its_file() -> None:
    error = errors.ContainerExpiredError("gone", container_id="cntr_1", file_id="cfile_2")
    assert (error.container_id, error.file_id) == ("cntr_1", "cfile_2")


def test_api_error_appends_its_hint() -> None:
    error = errors.ApiError(
        "429 Rate limit reached.", status=429, hint="Wait a minute and run the cell again."
    )
    assert str(error) == "429 Rate limit reached. Wait a minute and run the cell again."
    assert error.status == 429


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        _ = openai_artifacts_nb.no_such_thing


def test_client_needs_a_key_or_a_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(errors.ConfigurationError) as caught:
        make_client()
    assert str(caught.value) == MISSING_CREDENTIALS
    assert "\n" not in str(caught.value)


def test_client_with_only_a_base_url_uses_a_placeholder_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    client = make_client(max_retries=0)
    assert client.api_key == PLACEHOLDER_API_KEY
    assert str(client.base_url) == "http://127.0.0.1:9/v1/"
    assert client.max_retries == 0


def test_client_takes_the_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert make_client().api_key == "sk-test-secret"


def test_cli_lists_its_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("serve", "fetch", "run", "demo"):
        assert command in out


def test_cli_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--version"])
    assert openai_artifacts_nb.__version__ in capsys.readouterr().out


def test_fetch_requires_an_output_folder() -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["fetch", "resp_1"])
    assert exit_info.value.code == 2


def test_redact_secrets_hides_the_key_and_anything_shaped_like_one() -> None:
    from openai_artifacts_nb.client import redact_secrets

    assert redact_secrets("401: bad key abcd-secret-value", "abcd-secret-value") == "401: bad key [redacted]"
    assert redact_secrets("pasted sk-proj-abcdef123456 here") == "pasted [redacted] here"
    assert redact_secrets("sk-abcdef123456", None, marker="sk-…") == "sk-…"
    assert redact_secrets("no secret in sk-ab", "abc") == "no secret in sk-ab"
