"""``python -m jupyter_scripting.cli``: the same as ``jupyter scripting``."""

from __future__ import annotations

from . import main

main()
