"""JupyterHub config for a class on one shared ``openai-artifacts serve --keys`` emulator.

The hub starts the emulator as a managed service (and stops it with the hub), and gives each student's
single-user server their own key through ``c.Spawner.environment``: their notebooks' ``%%openai`` cells
then talk to the class emulator as their own project (a key sees only its own containers, files and
responses). Keys come from ``class-keys.txt`` beside this file, one a line; the i-th student of
``STUDENTS`` gets the i-th line. The file is written (mode 0600) the first time the hub starts.

Settings (edit them here, or set the environment variables):
  OPENAI_CLASS_DIR       where class-keys.txt lives (default: this file's folder)
  OPENAI_CLASS_PORT      the emulator's port on 127.0.0.1 (default: 8765)
  OPENAI_CLASS_STUDENTS  the students' hub user names, space-separated (default: student1 … student30)

Authentication and spawning are the hub's own business: this file leaves them to you (PAM and real system
users by default, so each student's files are theirs alone). Run ``jupyterhub -f jupyterhub_config.py``.
"""

import os
import sys
from pathlib import Path

from openai_artifacts_nb.local.access import KeyRing

c = get_config()  # type: ignore[name-defined]  # noqa: F821  (JupyterHub defines it)

CLASS_DIR = Path(os.environ.get("OPENAI_CLASS_DIR") or Path(__file__).resolve().parent)
EMULATOR_PORT = int(os.environ.get("OPENAI_CLASS_PORT") or 8765)
STUDENTS = os.environ.get("OPENAI_CLASS_STUDENTS", "").split() or [f"student{i}" for i in range(1, 31)]
KEYS_FILE = CLASS_DIR / "class-keys.txt"

if not KEYS_FILE.exists():
    KeyRing.generate(KEYS_FILE, count=len(STUDENTS))
_lines = [line.strip() for line in KEYS_FILE.read_text(encoding="utf-8").splitlines()]
_keys = [line for line in _lines if line and not line.startswith("#")]
if len(_keys) < len(STUDENTS):
    raise SystemExit(f"{KEYS_FILE} has {len(_keys)} keys for {len(STUDENTS)} students: add a line each")
KEYS = dict(zip(STUDENTS, _keys, strict=False))

# The emulator: the hub starts it before any student's server and stops it on shutdown.
c.JupyterHub.services = [
    {
        "name": "openai-emulator",
        "command": [
            sys.executable,
            "-m",
            "openai_artifacts_nb",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(EMULATOR_PORT),
            "--keys",
            str(KEYS_FILE),
        ],
        "cwd": str(CLASS_DIR),
    }
]

# Only the students with a key may log in.
c.Authenticator.allowed_users = set(STUDENTS)

# Each student's server (and every kernel it starts) gets the class emulator and their own key.
# OPENAI_ARTIFACTS_BACKEND=openai makes `%openai local` in a notebook use these, not an embedded emulator.
c.Spawner.environment = {
    "OPENAI_BASE_URL": f"http://127.0.0.1:{EMULATOR_PORT}/v1",
    "OPENAI_API_KEY": lambda spawner: KEYS[spawner.user.name],
    "OPENAI_ARTIFACTS_BACKEND": "openai",
}
