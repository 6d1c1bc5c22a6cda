"""A local emulator of the OpenAI API that runs the prompt's Python for real.

``from openai_artifacts_nb.local import LocalServer``. It speaks the wire format of the Responses API (with
the code interpreter), Containers and their files, Files and the legacy Assistants API, well enough that the
official ``openai`` SDK cannot tell it from the service. Its "model" follows the conventions of
:mod:`~openai_artifacts_nb.local.prompt`; :mod:`~openai_artifacts_nb.local.faults` makes it misbehave on
purpose. It imports nothing from the client side of the package.
"""

from __future__ import annotations

from openai_artifacts_nb.local.faults import Faults
from openai_artifacts_nb.local.server import LocalServer, serve_command

__all__ = ["Faults", "LocalServer", "serve_command"]
