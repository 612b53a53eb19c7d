"""Where tracectl writes: results to stdout, errors to stderr as one line with an exit code."""

from __future__ import annotations

import sys
from typing import NoReturn

from rich.console import Console
from rich.markup import escape

# Wide enough for a waterfall when output is not a terminal (CI logs, files, pipes).
console = Console() if sys.stdout.isatty() else Console(width=150)
err = Console(stderr=True, soft_wrap=True)  # an error stays one line, whatever the width


def one_line(text: str) -> str:
    """`text` with every unprintable character (newlines, control characters) escaped: one line."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print `error: message` on stderr as one line and exit: 2 for usage or environment, 1 for a failed check.

    Whatever the user typed may be part of `message`; it is escaped, never interpreted as markup.
    """
    err.print(f"[bold red]error:[/] {escape(one_line(message))}", highlight=False)
    sys.exit(code)
