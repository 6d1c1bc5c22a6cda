"""``python -m openai_artifacts_nb`` runs the ``openai-artifacts`` command."""

import sys

from openai_artifacts_nb.cli import main

sys.exit(main())
