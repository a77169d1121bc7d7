"""Terminal rendering on stderr and stdout: the spinner, the progress bars redrawn with ANSI
cursor movement, and the word wrap of streamed answers (``cmd.displayResponse``).
"""

from __future__ import annotations

import os
import threading
import time
from typing import IO

from tests.fake_cli.formats import human_bytes

SPINNER_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class _Spinner:
    def __init__(self, message: str = "") -> None:
        self.message = message
        self.started = time.monotonic()
        self.stopped = False

    def render(self) -> str:
        parts = []
        if self.message:
            parts.append(self.message.strip() + " ")
        if not self.stopped:
            frame = int((time.monotonic() - self.started) * 10) % len(SPINNER_FRAMES)
            parts.append(SPINNER_FRAMES[frame] + " ")
        return "".join(parts)


class _Bar:
    def __init__(self, message: str, total: int, completed: int) -> None:
        self.message = message
        self.total = total
        self.completed = completed

    def render(self) -> str:
        percent = 100.0 * self.completed / self.total if self.total else 100.0
        width = 18
        filled = int(width * percent / 100)
        bar = "█" * filled + " " * (width - filled)
        if self.completed >= self.total:
            suffix = human_bytes(self.total)
        else:
            suffix = f"{human_bytes(self.completed)}/{human_bytes(self.total)}"
        return f"{self.message}: {percent:3.0f}% ▕{bar}▏ {suffix}"


class _Progress:
    """Ollama's progress renderer: redraws all states with ANSI cursor movement, 10 Hz."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.states: list[_Spinner | _Bar] = []
        self.pos = 0
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.out.write("\x1b[?25l")
        self.out.flush()
        self.thread = threading.Thread(target=self._tick, daemon=True)
        self.thread.start()

    def _tick(self) -> None:
        while not self.done.wait(0.1):
            self.render()

    def add(self, state: _Spinner | _Bar) -> None:
        with self.lock:
            self.states.append(state)
        self.render()

    def render(self) -> None:
        with self.lock:
            if not self.states:
                return
            buf = ["\x1b[?2026h", "\x1b[A" * self.pos, "\x1b[1G"]
            for i, state in enumerate(self.states):
                buf.append(state.render())
                buf.append("\x1b[K")
                if i < len(self.states) - 1:
                    buf.append("\n")
            buf.append("\x1b[?2026l")
            self.pos = len(self.states) - 1
            self.out.write("".join(buf))
            self.out.flush()

    def _halt(self) -> bool:
        if self.done.is_set():
            return False
        self.done.set()
        self.thread.join(1)
        for state in self.states:
            if isinstance(state, _Spinner):
                state.stopped = True
        return True

    def stop(self) -> None:
        if self._halt():
            self.render()
            self.out.write("\x1b[?25h\n" if self.states else "\x1b[?25h")
            self.out.flush()

    def stop_and_clear(self) -> None:
        if self._halt():
            with self.lock:
                buf = ["\x1b[?2026h", "\x1b[A" * self.pos, "\x1b[1G", "\x1b[2K"]
                buf.extend("\x1b[B\x1b[2K" for _ in range(self.pos))
                buf.append("\x1b[A" * self.pos + "\x1b[1G\x1b[?2026l\x1b[?25h")
                self.out.write("".join(buf))
                self.out.flush()


class _WrapState:
    def __init__(self) -> None:
        self.line_length = 0
        self.word_buffer = ""


def _display(text: str, word_wrap: bool, state: _WrapState, out: IO[str]) -> None:
    """cmd.displayResponse: wrap at terminal width - 5 by backtracking with ANSI escapes."""
    width = 80
    if out.isatty():
        try:
            width = os.get_terminal_size(out.fileno()).columns
        except OSError:
            width = 80
    if not (word_wrap and width >= 10):
        out.write(state.word_buffer + text)
        state.word_buffer = ""
        out.flush()
        return
    for ch in text:
        if state.line_length + 1 > width - 5:
            if len(state.word_buffer) > width - 10:
                out.write(f"{state.word_buffer}{ch}")
                state.word_buffer = ""
                state.line_length = 0
                continue
            backtrack = len(state.word_buffer)
            if backtrack > 0:
                out.write(f"\x1b[{backtrack}D")
            out.write("\x1b[K\n")
            out.write(f"{state.word_buffer}{ch}")
            state.line_length = len(state.word_buffer) + 1
        else:
            out.write(ch)
            state.line_length += 1
            if ch in " \t":
                state.word_buffer = ""
            elif ch in "\n\r":
                state.line_length = 0
                state.word_buffer = ""
            else:
                state.word_buffer += ch
    out.flush()
