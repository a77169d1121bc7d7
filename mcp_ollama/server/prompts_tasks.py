"""Task prompts: the built-in skills as slash commands (summarize, code_review, commit_message,
extract, explain, test_ideas).

Each renders one user message telling the assistant to hand the task to a local model with
`generate_text(files=[...], skills=[...])`, so that the server, not the assistant, reads the
files: the assistant pays only for the answer. A diff is written to a file by a shell redirect
for the same reason.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from mcp.server import MCPServer
from pydantic import Field

__all__ = ["DIFF_FILE", "register_task_prompts", "split_files", "tool_call"]

DIFF_FILE = "mcp-ollama.diff"
"""Where a recipe saves a diff for the model to read (in the project root, deleted after)."""

Files = Annotated[str, Field(description="Paths or glob patterns, comma-separated")]
OptionalFiles = Annotated[
    str, Field(description="Paths or glob patterns, comma-separated (default: the git diff)")
]
Model = Annotated[str, Field(description="A local model (default: the configured one)")]


def split_files(value: str) -> list[str]:
    """Paths from a prompt argument: comma-separated, else whitespace-separated.

    >>> split_files('src/*.py, README.md'), split_files('a.py b.py'), split_files(' ')
    (['src/*.py', 'README.md'], ['a.py', 'b.py'], [])
    """
    parts = value.split(",") if "," in value else value.split()
    return [part.strip() for part in parts if part.strip()]


def tool_call(tool: str, **arguments: Any) -> str:
    """A tool call written out for the assistant: `tool(key='value', ...)`, empty ones left out."""
    rendered = ", ".join(f"{key}={value!r}" for key, value in arguments.items() if value)
    return f"{tool}({rendered})"


def _call(**arguments: Any) -> str:
    return tool_call("generate_text", **arguments)


def _delegate(call: str, then: str, diff: str | None = None) -> str:
    """The message: how to hand the task over without reading the material, and what next."""
    first = (
        f"First save the diff to a file without reading it: run `{diff} > {DIFF_FILE}` in the "
        f"project root. Then call {call}, and delete {DIFF_FILE} afterwards."
        if diff
        else f"Call {call}."
    )
    return (
        f"Hand this task to the local model rather than doing it yourself. {first} The server "
        "reads the files and sends them to the model: do not open them yourself. If the call "
        f"says how to allow a directory or how to fit the model's window, follow it. {then}"
    )


def register_task_prompts(mcp: MCPServer[Any]) -> None:
    """Register one prompt per built-in task skill."""

    @mcp.prompt(title="Summarize files with a local model")
    async def summarize(
        files: Files,
        style: Annotated[str, Field(description="The form, e.g. 'three bullet points'")] = "",
        model: Model = "",
    ) -> str:
        """Have a local model summarise files (paths or globs) without reading them yourself."""
        ask = f"Summarise these files as {style}." if style else "Summarise these files."
        call = _call(model=model, prompt=ask, files=split_files(files), skills=["summarize"])
        return _delegate(call, "Return the model's summary as it is.")

    @mcp.prompt(title="Review code or a diff with a local model")
    async def code_review(
        files: OptionalFiles = "",
        focus: Annotated[str, Field(description="What to look at most, e.g. 'security'")] = "",
        model: Model = "",
    ) -> str:
        """Have a local model review files, or the uncommitted changes, for bugs and risks."""
        paths = split_files(files) or [DIFF_FILE]
        ask = "Review this code." + (f" Focus on {focus}." if focus else "")
        call = _call(model=model, prompt=ask, files=paths, skills=["code_review"])
        then = "Show the findings, and check each one against the code before acting on it."
        return _delegate(call, then, diff=None if files.strip() else "git diff HEAD")

    @mcp.prompt(title="Write a commit message with a local model")
    async def commit_message(files: OptionalFiles = "", model: Model = "") -> str:
        """Have a local model write a Conventional Commits message for the staged changes."""
        paths = split_files(files) or [DIFF_FILE]
        ask = "Write the commit message for this diff."
        call = _call(model=model, prompt=ask, files=paths, skills=["commit_message"])
        then = "Show the message, and ask me before committing with it."
        return _delegate(call, then, diff=None if files.strip() else "git diff --staged")

    @mcp.prompt(title="Extract data from files with a local model")
    async def extract(
        files: Files,
        fields: Annotated[
            str, Field(description="A JSON schema, or the fields wanted in plain words")
        ],
        model: Model = "",
    ) -> str:
        """Have a local model pull structured data (JSON) out of files."""
        paths = split_files(files)
        try:
            schema = json.loads(fields)
        except ValueError:
            schema = None
        if isinstance(schema, dict):
            call = _call(
                model=model,
                prompt="Extract the data the schema describes.",
                files=paths,
                skills=["extract"],
                format=schema,
            )
            return _delegate(call, "Return the JSON the model answers.")
        call = _call(
            model=model,
            prompt=f"Extract: {fields}",
            files=paths,
            skills=["extract"],
            format="<a JSON schema of those fields>",
        )
        then = (
            "Write the JSON schema of the fields asked for in place of the placeholder, so that "
            "the answer is valid JSON of that shape. Return the JSON the model answers."
        )
        return _delegate(call, then)

    @mcp.prompt(title="Explain code with a local model")
    async def explain(
        files: Files,
        question: Annotated[str, Field(description="What to explain in particular")] = "",
        model: Model = "",
    ) -> str:
        """Have a local model explain what files do and why."""
        ask = question or "Explain what this code does and how it works."
        call = _call(model=model, prompt=ask, files=split_files(files), skills=["explain"])
        return _delegate(call, "Return the model's explanation as it is.")

    @mcp.prompt(title="Propose tests with a local model")
    async def test_ideas(files: Files, model: Model = "") -> str:
        """Have a local model propose the test cases worth writing for files."""
        ask = "Propose the tests worth writing for this code."
        call = _call(model=model, prompt=ask, files=split_files(files), skills=["test_ideas"])
        return _delegate(call, "Return the model's list as it is.")
