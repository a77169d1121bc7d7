"""Which files a call's `files` name, and whether each may be read.

Where files may come from is decided by `allowed_roots`: the directories the client declares as
its roots, else the `file_roots` setting. Every path is resolved (symbolic links included) and
must then lie inside one of them, so `..`, absolute paths elsewhere and links pointing outside
are refused; so are directories, devices, FIFOs, sockets and any name `file_deny` matches. Glob
patterns expand inside the roots only, in a stable (sorted) order, within a bounded scan.
Reading what is found is `files.py`'s job.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mcp_ollama.errors import InvalidInputError
from mcp_ollama.settings import Settings

__all__ = ["ALLOW_A_DIRECTORY", "MAX_SCANNED", "Found", "Roots", "allowed_roots", "find_files"]

MAX_SCANNED = 20_000
"""Directory entries one glob pattern may look through (a `**` over a huge tree stops here)."""
_MAGIC = re.compile(r"[*?[]")

ALLOW_A_DIRECTORY = (
    "set MCP_OLLAMA_FILE_ROOTS to the directories to allow (comma-separated absolute paths), or "
    'file_roots = ["/path/to/project"] in the config file'
)


@dataclass(frozen=True)
class Root:
    """An allowed directory: as declared, and resolved."""

    given: Path
    real: Path


@dataclass(frozen=True)
class Roots:
    """The directories files may be read from, first one first (relative paths start there),
    and whose they are (for messages)."""

    roots: tuple[Root, ...]
    origin: str

    def describe(self) -> str:
        """The roots, for an error message."""
        return f"{self.origin} ({', '.join(str(r.given) for r in self.roots)})"


def allowed_roots(settings: Settings, declared: Sequence[Path] | None) -> Roots:
    """The roots a call's `files` come from: the client's (`declared`), else `file_roots`.

    Over a network transport the client is not the user's own process, so its roots count only
    inside `file_roots`, which must be set.

    Raises:
        InvalidInputError: no directory is allowed, with how to allow one.
    """
    configured = [Path(path) for path in settings.file_roots]
    client = list(declared or [])
    if settings.transport != "stdio":
        if not configured:
            raise InvalidInputError(
                "this server is reached over the network, so it reads files only inside the "
                f"file_roots setting, which is empty: {ALLOW_A_DIRECTORY}"
            )
        if client:
            client = _within(client, configured)
            if not client:
                raise InvalidInputError(
                    "none of the client's roots is inside the file_roots setting "
                    f"({', '.join(map(str, configured))}), so no file may be read; add the "
                    "directory to file_roots"
                )
    if client:
        return Roots(tuple(_root(path) for path in client), "the client's roots")
    if configured:
        return Roots(tuple(_root(path) for path in configured), "file_roots")
    raise InvalidInputError(
        f"`files` needs a directory the server may read, and this client declares no roots: "
        f"{ALLOW_A_DIRECTORY}"
    )


def _root(path: Path) -> Root:
    return Root(path, Path(os.path.realpath(path)))


def _within(client: list[Path], configured: list[Path]) -> list[Path]:
    """The parts of the client's roots inside the configured ones (the narrower of each pair)."""
    kept: list[Path] = []
    for mine in (Path(os.path.realpath(p)) for p in client):
        for allowed in (Path(os.path.realpath(p)) for p in configured):
            narrower = mine if mine.is_relative_to(allowed) else allowed
            if narrower.is_relative_to(mine) and narrower.is_relative_to(allowed):
                kept.append(narrower)
    return list(dict.fromkeys(kept))


@dataclass(frozen=True)
class Found:
    """A file to read: as shown to the model, its root and its resolved path."""

    shown: str
    root: Path
    real: Path
    device: int
    inode: int


def find_files(patterns: Sequence[str], roots: Roots, settings: Settings) -> list[Found]:
    """The files `patterns` name (paths or glob patterns), in the order given, each glob's
    matches sorted, every file once.

    Raises:
        InvalidInputError: a path outside the roots, denied, not a regular file or missing; a
            glob that matches nothing or too much.
    """
    found: dict[Path, Found] = {}
    for pattern in patterns:
        for item in _expand(pattern, roots, settings):
            found.setdefault(item.real, item)
        if len(found) > settings.max_files:
            raise InvalidInputError(
                f"`files` names more than {settings.max_files} files (MCP_OLLAMA_MAX_FILES); "
                "name fewer, or narrow the patterns"
            )
    return list(found.values())


def _expand(pattern: str, roots: Roots, settings: Settings) -> list[Found]:
    """The file a path names, or the files a glob pattern matches (sorted)."""
    if not pattern.strip() or "\x00" in pattern:
        raise InvalidInputError(f"{pattern!r} in `files` is not a path")
    path = Path(pattern).expanduser()
    if ".." in path.parts:
        raise InvalidInputError(
            f"'{pattern}': '..' is not allowed in `files`; name files from "
            f"{roots.roots[0].given} or by their absolute path inside {roots.describe()}"
        )
    if not _MAGIC.search(pattern):
        checked = _check(_lexical(path, roots), roots, settings)
        if isinstance(checked, str):
            raise InvalidInputError(f"'{pattern}' {checked}")
        return [checked]
    matches = [
        checked
        for candidate in _glob(pattern, path, roots, settings)
        if not isinstance(checked := _check(candidate, roots, settings), str)
    ]
    if not matches:
        raise InvalidInputError(f"no readable file matches '{pattern}' in {roots.describe()}")
    return sorted(matches, key=lambda item: item.shown)


def _lexical(path: Path, roots: Roots) -> Path:
    """A path as given, made absolute: relative paths start at the first root."""
    return path if path.is_absolute() else roots.roots[0].given / path


def _glob(pattern: str, path: Path, roots: Roots, settings: Settings) -> list[Path]:
    """The paths a glob pattern matches: `*`, `?` and `[...]` within a name, `**` for any depth.
    Names starting with '.' match only a part that starts with '.', links to directories are
    not descended, and at most `MAX_SCANNED` entries and `max_files` matches are looked at."""
    base, parts = (Path(path.anchor), path.parts[1:]) if path.is_absolute() else (None, path.parts)
    fixed = next(i for i, part in enumerate(parts) if _MAGIC.search(part))
    start = _lexical(Path(*parts[:fixed]), roots) if base is None else base.joinpath(*parts[:fixed])
    if _containing(Path(os.path.realpath(start)), roots) is None:
        raise InvalidInputError(f"'{pattern}' is outside {roots.describe()}")
    rest = parts[fixed:]
    if rest[-1] == "**":
        rest = (*rest, "*")  # every file below, not only the directories
    matches: list[Path] = []
    scanned = 0

    def entries(directory: Path) -> list[os.DirEntry[str]]:
        nonlocal scanned
        found = []
        try:
            with os.scandir(directory) as listing:
                for entry in listing:
                    scanned += 1
                    if scanned > MAX_SCANNED:
                        raise InvalidInputError(
                            f"'{pattern}' looks through more than {MAX_SCANNED:,} files and "
                            "folders; narrow it (e.g. 'src/**/*.py' rather than '**/*')"
                        )
                    found.append(entry)
        except OSError:
            return []  # a folder that cannot be listed holds no match
        return sorted(found, key=lambda entry: entry.name)

    def walk(directory: Path, segments: tuple[str, ...]) -> None:
        segment, tail = segments[0], segments[1:]
        if segment == "**":
            walk(directory, tail)
            for entry in entries(directory):
                if not entry.name.startswith(".") and entry.is_dir(follow_symlinks=False):
                    walk(Path(entry.path), segments)
            return
        for entry in entries(directory):
            if entry.name.startswith(".") and not segment.startswith("."):
                continue
            if not fnmatch.fnmatchcase(entry.name, segment):
                continue
            if not tail:
                matches.append(Path(entry.path))
                if len(matches) > settings.max_files:
                    raise InvalidInputError(
                        f"'{pattern}' matches more than {settings.max_files} files "
                        "(MCP_OLLAMA_MAX_FILES); narrow it"
                    )
            elif entry.is_dir(follow_symlinks=False):
                walk(Path(entry.path), tail)

    walk(start, rest)
    return matches


def _containing(real: Path, roots: Roots) -> Root | None:
    return next((root for root in roots.roots if real.is_relative_to(root.real)), None)


def _check(lexical: Path, roots: Roots, settings: Settings) -> Found | str:
    """The file to read, or why it may not be read (the rest of a sentence naming it)."""
    real = Path(os.path.realpath(lexical))
    root = _containing(real, roots)
    if root is None:
        where = f" (it resolves to {real})" if real != lexical else ""
        return f"is outside {roots.describe()}{where}"
    # Both names count: the one given (a link called `.env`) and the one reached (a link to it).
    given = next(
        (
            lexical.relative_to(b).parts
            for b in (root.given, root.real)
            if lexical.is_relative_to(b)
        ),
        (lexical.name,),
    )
    denied = _denied(real.relative_to(root.real).parts, settings) or _denied(given, settings)
    if denied:
        return f"is never read: it matches '{denied}' in file_deny"
    try:
        status = os.stat(real, follow_symlinks=False)
    except FileNotFoundError:
        return f"does not exist in {roots.describe()}"
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}"
    if stat.S_ISDIR(status.st_mode):
        return "is a directory: name the files in it, or a pattern such as 'dir/*'"
    if not stat.S_ISREG(status.st_mode):
        return "is not a regular file (a device, FIFO or socket), so it is never read"
    return Found(_shown(lexical, roots), root.real, real, status.st_dev, status.st_ino)


def _shown(lexical: Path, roots: Roots) -> str:
    """The path the model and the agent see: relative to the first root when inside it."""
    first = roots.roots[0]
    for base in (first.given, first.real):
        if lexical.is_relative_to(base):
            return lexical.relative_to(base).as_posix()
    return str(lexical)


def _denied(parts: Sequence[str], settings: Settings) -> str | None:
    """The `file_deny` pattern a path's parts match: a name pattern matches any part; one
    ending in '/' matches a folder on the way; one with '/' inside matches the whole path."""
    names = [part.lower() for part in parts]
    for pattern in settings.file_deny:
        wanted = pattern.lower()
        if wanted.endswith("/"):
            hit = any(fnmatch.fnmatchcase(name, wanted[:-1]) for name in names[:-1])
        elif "/" in wanted:
            hit = fnmatch.fnmatchcase("/".join(names), wanted.lstrip("/"))
        else:
            hit = any(fnmatch.fnmatchcase(name, wanted) for name in names)
        if hit:
            return pattern
    return None
