"""stderr for a person: a progress bar redrawn in place, and log lines that never share its line.

On a terminal the bar is one line rewritten with `\\r`; anything else written to stderr (a log
line, an error) first ends that line, so nothing is ever glued to a half-drawn bar, and
`ProgressBar.finish()` ends it when a run stops early. Elsewhere (a pipe, a file) every update is
a line of its own.
"""

from __future__ import annotations

import sys
from typing import TextIO

__all__ = ["BAR_WIDTH", "ProgressBar", "Terminal", "terminal"]

BAR_WIDTH = 24


class Terminal:
    """A stream wrapper that knows whether a progress line is open, and closes it first."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self._open = False

    def write(self, text: str) -> int:
        """Write a log line or message, on a line of its own."""
        if text:
            self.end_line()
        return self.stream.write(text)

    def flush(self) -> None:
        """Flush the underlying stream."""
        self.stream.flush()

    def isatty(self) -> bool:
        """Whether a person watches (the bar is then redrawn in place)."""
        return self.tty

    def redraw(self, line: str, *, last: bool = False) -> None:
        """Show the progress line: in place on a terminal (ending it when `last`), else a line."""
        if self.tty:
            self.stream.write(f"\r\x1b[2K{line}")
            self._open = not last
            if last:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def end_line(self) -> None:
        """End an open progress line, so what follows starts on a line of its own."""
        if self._open:
            self._open = False
            self.stream.write("\n")
            self.stream.flush()


_current: Terminal | None = None


def terminal(stream: TextIO | None = None) -> Terminal:
    """The one `Terminal` over `stream` (default: stderr now), shared by the bar and the logs."""
    global _current
    target = stream if stream is not None else sys.stderr
    if _current is None or _current.stream is not target:
        _current = Terminal(target)
    return _current


class ProgressBar:
    """`[#####-----] 3/12 message`: redrawn in place on a terminal, one line each otherwise."""

    def __init__(self, stream: TextIO | Terminal, *, width: int = BAR_WIDTH) -> None:
        self.terminal = stream if isinstance(stream, Terminal) else terminal(stream)
        self.width = width

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        """Draw one update (a core `ProgressCallback`)."""
        done = int(progress)
        planned = int(total) if total else done
        filled = round(self.width * done / planned) if planned else self.width
        line = f"[{'#' * filled}{'-' * (self.width - filled)}] {done}/{planned}"
        if message:
            line += f" {message}"
        self.terminal.redraw(line, last=done >= planned)

    def finish(self) -> None:
        """End the bar's line however the run ended (a failure stops it part way)."""
        self.terminal.end_line()
