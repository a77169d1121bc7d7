"""Files read into a prompt on an agent's behalf (`files`), so that it never pays for them.

`file_paths.py` decides which files a call names and whether each may be read. The check and the
read are not trusted to see the same file: a file is opened one path component at a time from
its root's descriptor, never following a link (`O_NOFOLLOW` at every step), and the open
descriptor must be the very regular file that was checked (`fstat`), so a link or a FIFO swapped
in between is refused rather than followed.

Images (png, jpeg, webp, gif, told by their first bytes) go to the model as images; anything
else must be UTF-8 text, and is laid out under a `File: <path>` header in a code fence.
"""

from __future__ import annotations

import base64
import errno
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import anyio.to_thread

from mcp_ollama.errors import InvalidInputError
from mcp_ollama.generation.file_paths import Found, Roots, allowed_roots, find_files
from mcp_ollama.ollama.types import ChatMessage
from mcp_ollama.results import FileRead, human_bytes
from mcp_ollama.settings import Settings

__all__ = ["Attachment", "attach", "read_files"]

_IMAGES = ((b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpeg"), (b"GIF87a", "gif"))
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
# A FIFO swapped in must not hang the open: it is refused just after, on its descriptor.
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
# Walking from the root's descriptor needs `openat` (POSIX); elsewhere the file is opened by its
# resolved path and the descriptor still checked against what was checked.
_WALKS = os.open in os.supports_dir_fd and _NOFOLLOW != 0


@dataclass
class Attachment:
    """The files read for one call: texts under headers, images, and what was read."""

    read: list[FileRead] = field(default_factory=list)
    blocks: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    """Base64, in the order the files were given."""

    def around(self, text: str) -> str:
        """`text` after the files: the material first, the request last."""
        return "\n\n".join([*self.blocks, text]) if text else "\n\n".join(self.blocks)

    def into(self, messages: Sequence[ChatMessage]) -> list[ChatMessage]:
        """The messages with the files in the newest user message: its text after them, their
        images before its own.

        Raises:
            InvalidInputError: there is no user message to carry them.
        """
        users = [i for i, message in enumerate(messages) if message.role == "user"]
        if not users:
            raise InvalidInputError("`files` go with the newest user message; messages has none")
        newest = messages[users[-1]]
        carried = newest.model_copy(
            update={
                "content": self.around(newest.content),
                "images": [*self.images, *(newest.images or [])] or None,
            }
        )
        return [*messages[: users[-1]], carried, *messages[users[-1] + 1 :]]


async def attach(
    files: Sequence[str] | None, roots: Sequence[Path] | None, settings: Settings
) -> Attachment | None:
    """The files a call names, read from inside `roots` (the client's; None when it declares
    none) or the `file_roots` setting; None without files.

    Raises:
        InvalidInputError: no directory is allowed, or a file may not or cannot be read.
    """
    if not files:
        return None
    allowed = allowed_roots(settings, roots)
    return await anyio.to_thread.run_sync(read_files, files, allowed, settings)


def read_files(patterns: Sequence[str], roots: Roots, settings: Settings) -> Attachment:
    """Read the files `patterns` name (paths or glob patterns) for a prompt, in a stable order
    (blocking: run it in a worker thread).

    Raises:
        InvalidInputError: a file that may not be read, is binary, or is over a size limit.
    """
    attachment = Attachment()
    total = 0
    for item in find_files(patterns, roots, settings):
        data = _read(item, settings, room=settings.max_files_bytes - total)
        total += len(data)
        kind = _image_kind(data)
        if kind:
            attachment.images.append(base64.b64encode(data).decode("ascii"))
            number = len(attachment.images)
            attachment.blocks.append(f"File: {item.shown} (attached as image {number})")
        else:
            attachment.blocks.append(_block(item.shown, _text(item, data)))
        attachment.read.append(FileRead(path=item.shown, bytes=len(data), image=bool(kind)))
    return attachment


def _read(item: Found, settings: Settings, *, room: int) -> bytes:
    """The file's bytes, within the per-file and total limits, from the file that was checked."""
    try:
        fd = _open_inside(item.root, item.real.relative_to(item.root).parts)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENOENT):
            raise InvalidInputError(
                f"'{item.shown}' changed while it was being read (moved, or replaced by a link); "
                "nothing was sent"
            ) from exc
        raise InvalidInputError(f"'{item.shown}' cannot be read: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "rb") as file:
        status = os.fstat(file.fileno())
        same = (status.st_dev, status.st_ino) == (item.device, item.inode)
        if not same or not stat.S_ISREG(status.st_mode):
            raise InvalidInputError(
                f"'{item.shown}' changed while it was being read; nothing was sent"
            )
        head = file.read(16)
        limit, setting = (
            (settings.max_image_bytes, "MCP_OLLAMA_MAX_IMAGE_BYTES")
            if _image_kind(head)
            else (settings.max_file_bytes, "MCP_OLLAMA_MAX_FILE_BYTES")
        )
        data = head + file.read(max(min(limit, room) + 1 - len(head), 0))
    size = max(len(data), status.st_size)
    if size > limit:
        raise InvalidInputError(
            f"'{item.shown}' is {human_bytes(size)}, over the limit of "
            f"{human_bytes(limit)} per file ({setting}); send a smaller file or a part of it"
        )
    if len(data) > room:
        raise InvalidInputError(
            f"the files come to more than {human_bytes(settings.max_files_bytes)} together "
            "(MCP_OLLAMA_MAX_FILES_BYTES); send fewer files per call"
        )
    return data


def _open_inside(root: Path, parts: Sequence[str]) -> int:
    """A descriptor of `root/parts...`, opened without following any link on the way."""
    if not _WALKS:
        return os.open(root.joinpath(*parts), _FLAGS | _NOFOLLOW | _NONBLOCK)
    directory = os.open(root, _FLAGS | getattr(os, "O_DIRECTORY", 0))
    try:
        for part in parts[:-1]:
            inner = os.open(part, _FLAGS | os.O_DIRECTORY | _NOFOLLOW, dir_fd=directory)
            os.close(directory)
            directory = inner
        return os.open(parts[-1], _FLAGS | _NOFOLLOW | _NONBLOCK, dir_fd=directory)
    finally:
        os.close(directory)


def _image_kind(data: bytes) -> str | None:
    """'png', 'jpeg', 'gif' or 'webp' when the bytes start like one, else None.

    >>> _image_kind(b'GIF89a'), _image_kind(b'RIFF\\0\\0\\0\\0WEBPVP8 '), _image_kind(b'hi')
    ('gif', 'webp', None)
    """
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data.startswith(b"GIF89a"):
        return "gif"
    return next((kind for magic, kind in _IMAGES if data.startswith(magic)), None)


def _text(item: Found, data: bytes) -> str:
    """The file as text, or the clear error for a binary file."""
    nul = data.find(b"\x00")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        why = f"{exc.reason} at byte {exc.start}"
    else:
        if nul < 0:
            return text.removeprefix("\ufeff")
        why = f"a NUL byte at byte {nul}"
    raise InvalidInputError(
        f"'{item.shown}' is binary (not UTF-8 text, nor a png, jpeg, webp or gif image: {why}), "
        "so it cannot go into a prompt; leave it out"
    )


def _block(path: str, text: str) -> str:
    """A text file under its header, in a fence longer than any run of backticks inside it.

    >>> print(_block('src/a.py', 'x = 1\\n'))
    File: src/a.py
    ```py
    x = 1
    ```
    """
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    body = text if text.endswith("\n") or not text else text + "\n"
    return f"File: {path}\n{fence}{PurePosixPath(path).suffix.lstrip('.')}\n{body}{fence}"
