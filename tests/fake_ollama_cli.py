"""A fake ``ollama`` executable for lifecycle tests.

`install_fake_ollama_cli` writes ``bin_dir/ollama``, a script run by this virtualenv's Python that
calls `main`. Like the real CLI it is only an HTTP client of the daemon at ``OLLAMA_HOST`` (plus
``serve``, which starts `tests.fake_ollama` in-process). Output formats follow
``/work/shared/ollama-api.md`` §3.

Environment knobs:

* ``FAKE_OLLAMA_CLI_LOG=<path>``: append each invocation's ``argv[1:]`` as a JSON array line.
* ``FAKE_OLLAMA_MODE=fail_serve``: ``serve`` exits 1 at once with an ``Error: ...`` line.
* ``FAKE_OLLAMA_MODE=never_ready``: ``serve`` logs but never listens (until SIGTERM/SIGINT).
* ``FAKE_OLLAMA_SERVE_LOG=<path>``: ``serve`` also appends its log lines to this file.
* ``FAKE_OLLAMA_TOKENS_PER_SECOND`` / ``FAKE_OLLAMA_TTFT``: generation speed of ``serve``.

Only the standard library is imported here (``serve`` imports `tests.fake_ollama` lazily), so
each CLI call stays fast. This module is the entry point; the code lives in `tests.fake_cli`.
"""

from __future__ import annotations

import stat
import sys
from pathlib import Path

from tests.fake_cli.client import CLIENT_VERSION
from tests.fake_cli.dispatch import main
from tests.fake_cli.formats import human_bytes, human_time, render_table
from tests.fake_cli.goparse import (
    GoDurationError,
    go_duration_string,
    ollama_base_url,
    parse_go_duration,
    parse_ollama_host,
)

__all__ = [
    "CLIENT_VERSION",
    "GoDurationError",
    "go_duration_string",
    "human_bytes",
    "human_time",
    "install_fake_ollama_cli",
    "main",
    "ollama_base_url",
    "parse_go_duration",
    "parse_ollama_host",
    "render_table",
]

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def install_fake_ollama_cli(bin_dir: Path, *, daemon_url: str | None = None) -> Path:
    """Write an executable ``bin_dir/ollama`` and return its path.

    ``daemon_url`` becomes the default ``OLLAMA_HOST`` when the environment does not set one.
    """
    bin_dir = Path(bin_dir)
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "ollama"
    lines = [
        f"#!{sys.executable}",
        "# Fake `ollama` CLI written by tests.fake_ollama_cli.install_fake_ollama_cli",
        "import os",
        "import sys",
        "",
        f"sys.path.insert(0, {str(PROJECT_ROOT)!r})",
    ]
    if daemon_url is not None:
        lines.append(f"os.environ.setdefault('OLLAMA_HOST', {daemon_url!r})")
    lines += [
        "from tests.fake_ollama_cli import main",
        "",
        "sys.exit(main())",
        "",
    ]
    script.write_text("\n".join(lines), encoding="utf-8")
    mode = script.stat().st_mode
    script.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script


if __name__ == "__main__":
    sys.exit(main())
