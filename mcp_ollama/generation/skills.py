"""Skills: named Markdown instructions injected into the system message.

A skill is a file `NAME.md` in the skills directory (`settings.effective_skills_dir`), or one of
the task skills shipped in `builtin_skills/` (summarize, code_review, commit_message, extract,
explain, test_ideas); a user's skill of the same name replaces the built-in one. When a call
names skills, the system message becomes the skills' texts, each stripped of surrounding blank
space, joined by `SKILL_SEPARATOR`, followed (after one more separator) by the system prompt.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path

import anyio
from pydantic import Field

from mcp_ollama.errors import InvalidInputError, StorageError
from mcp_ollama.results import Result
from mcp_ollama.storage import read_bytes_inside

__all__ = [
    "BUILTIN_SKILLS",
    "SKILL_SEPARATOR",
    "Skill",
    "SkillBook",
    "SkillList",
    "join_system",
    "validate_skill_name",
]

SKILL_SEPARATOR = "\n\n---\n\n"
MAX_SKILLS = 16
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_BUILTIN = files("mcp_ollama.generation") / "builtin_skills"
BUILTIN_SKILLS = tuple(
    sorted(
        entry.name.removesuffix(".md") for entry in _BUILTIN.iterdir() if entry.name.endswith(".md")
    )
)
"""The task skills shipped with the package."""


def validate_skill_name(name: str) -> str:
    """Return `name` if it can name a skill file (letters, digits, `-`, `_`), else raise.

    >>> validate_skill_name('code-review')
    'code-review'
    >>> validate_skill_name('../secrets')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mcp_ollama.errors.InvalidInputError: invalid skill name '../secrets': ...
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInputError(
            f"invalid skill name {name!r}: skill names are file names without '.md' (letters, "
            "digits, '-' and '_'); see the skills:// resources for the available ones"
        )
    return name


def join_system(skill_texts: Sequence[str], system: str | None) -> str | None:
    """The system message: the skills joined by the separator, then the system prompt.

    >>> join_system(['Be brief.', 'Cite sources.'], 'You are a helper.')
    'Be brief.\\n\\n---\\n\\nCite sources.\\n\\n---\\n\\nYou are a helper.'
    >>> join_system([], 'You are a helper.'), join_system([], None)
    ('You are a helper.', None)
    >>> join_system(['Be brief.'], None)
    'Be brief.'
    """
    parts = [text.strip() for text in skill_texts]
    if system:
        parts.append(system)
    return SKILL_SEPARATOR.join(parts) if parts else None


class Skill(Result):
    """A skill's name and what it is about."""

    name: str
    description: str = Field("", description="The skill's first non-empty line")
    size_chars: int
    builtin: bool = Field(False, description="Shipped with mcp-ollama (a user file overrides it)")


class SkillList(Result):
    """The skills available in the skills directory."""

    skills_dir: str
    skills: list[Skill]
    skipped: list[str] = Field(
        default_factory=list, description="Files in the skills directory that cannot be read, why"
    )


class SkillBook:
    """The skills directory, read fresh on every call (skills are edited by hand).

    A skill file is read as itself, never through a symbolic link, and nothing inside the data
    directory is followed (when the skills directory is in it, as by default).
    """

    def __init__(self, directory: Path, *, data_dir: Path | None = None) -> None:
        self.directory = directory
        inside = data_dir is not None and directory.is_relative_to(data_dir)
        self._root = data_dir if data_dir is not None and inside else directory

    def names(self) -> list[str]:
        """The valid skill names present now, the user's and the built-in ones, sorted
        (synchronous: for start-up wiring)."""
        return sorted({*self._user_names(), *BUILTIN_SKILLS})

    def _user_names(self) -> set[str]:
        try:
            entries = list(os.scandir(self.directory))
        except OSError:
            return set()
        return {
            entry.name.removesuffix(".md")
            for entry in entries
            if entry.name.endswith(".md") and _NAME.fullmatch(entry.name.removesuffix(".md"))
        }

    async def list_skills(self) -> SkillList:
        """Every skill with its description; a file that cannot be read is skipped and named."""
        names = await anyio.to_thread.run_sync(self.names)
        skills = []
        skipped = []
        for name in names:
            try:
                text, builtin = await self._read(name)
            except (InvalidInputError, StorageError) as exc:  # gone since, a link, not UTF-8
                skipped.append(f"{name}.md: {exc}")
                continue
            first = next((line.strip() for line in text.splitlines() if line.strip()), "")
            description = first.lstrip("# ")
            skills.append(
                Skill(name=name, description=description, size_chars=len(text), builtin=builtin)
            )
        return SkillList(skills_dir=str(self.directory), skills=skills, skipped=skipped)

    async def read(self, name: str) -> str:
        """One skill's Markdown text: the user's file, else the built-in skill.

        Raises:
            InvalidInputError: the name is invalid or no such skill exists.
            StorageError: the file exists but cannot be read, is not UTF-8, or is a link.
        """
        text, _ = await self._read(name)
        return text

    async def _read(self, name: str) -> tuple[str, bool]:
        """The skill's text, and whether it is the built-in one."""
        path = self.directory / f"{validate_skill_name(name)}.md"
        try:
            data = await anyio.to_thread.run_sync(read_bytes_inside, self._root, path)
        except FileNotFoundError as exc:
            if name in BUILTIN_SKILLS:
                return (_BUILTIN / f"{name}.md").read_text(encoding="utf-8"), True
            available = await anyio.to_thread.run_sync(self.names)
            raise InvalidInputError(
                f"no skill named {name!r} in {self.directory}; available skills: "
                f"{', '.join(available) or 'none (add NAME.md files there)'}"
            ) from exc
        except StorageError as exc:
            raise StorageError(f"cannot read skill {name!r}: {exc}") from exc
        try:
            return data.decode("utf-8"), False
        except UnicodeDecodeError as exc:
            raise StorageError(
                f"cannot read skill {name!r} from {path}: it is not UTF-8 text ({exc.reason} at "
                f"byte {exc.start}); save it as UTF-8"
            ) from exc

    async def system_message(self, skills: Sequence[str] | None, system: str | None) -> str | None:
        """The system message for a call naming `skills` (in the order given) and `system`.

        Raises:
            InvalidInputError: a skill is unknown, repeated, or too many are named.
        """
        names = list(skills or [])
        if len(names) > MAX_SKILLS:
            raise InvalidInputError(f"at most {MAX_SKILLS} skills per call, not {len(names)}")
        if len(set(names)) != len(names):
            raise InvalidInputError(f"a skill is named twice in {names}; name each once")
        return join_system([await self.read(name) for name in names], system)
