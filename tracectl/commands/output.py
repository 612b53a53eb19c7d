"""Where tracectl writes: results to stdout, errors to stderr as one line with an exit code."""

from __future__ import annotations

import sys
from typing import NoReturn

from rich.console import Console

# Wide enough for a waterfall when output is not a terminal (CI logs, files, pipes).
console = Console() if sys.stdout.isatty() else Console(width=150)
err = Console(stderr=True, soft_wrap=True)  # an error stays one line, whatever the width


def fail(message: str, code: int = 2) -> NoReturn:
    """Print `error: message` on stderr and exit: 2 for usage or environment, 1 for a failed check."""
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    sys.exit(code)
