"""New object ids shaped like OpenAI's (``resp_…``, ``cntr_…``, ``conv_…``, ``file-…``, ``asst_…``)."""

from __future__ import annotations

import secrets
import string

_ALPHANUMERIC = string.ascii_letters + string.digits

# Hex lengths follow real ids: resp_/cntr_/ci_/msg_/conv_ (and shell sh_/sho_, image ig_) carry 48 hex
# digits, cfile_ 32. Model-made ``call_`` ids are base62.
_HEX_DIGITS = {
    "resp": 48,
    "cntr": 48,
    "ci": 48,
    "msg": 48,
    "conv": 48,
    "sh": 48,
    "sho": 48,
    "ig": 48,
    "cfile": 32,
    "req": 32,
}


def new_id(prefix: str) -> str:
    """Return a fresh id for ``prefix``: hex for Responses-era objects, base62 for Files and Assistants."""
    digits = _HEX_DIGITS.get(prefix)
    if digits is not None:
        return f"{prefix}_{secrets.token_hex(digits // 2)}"
    if prefix == "file":
        return "file-" + "".join(secrets.choice(_ALPHANUMERIC) for _ in range(22))
    return f"{prefix}_" + "".join(secrets.choice(_ALPHANUMERIC) for _ in range(24))
