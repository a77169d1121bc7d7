"""Prompts: ready-made requests that tell the calling assistant how to use the local models.

Each prompt renders one user message naming the exact tool calls to make, so a client that
offers prompts as slash commands gets a working recipe. The task prompts (summarize,
code_review, ...) are in `prompts_tasks.py`. Model arguments complete to the installed models.
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from pydantic import Field

from mcp_ollama.server.completions import complete_model_names, completion_registry
from mcp_ollama.server.prompts_tasks import register_task_prompts, tool_call

__all__ = ["MODEL_ARGUMENTS", "register_prompts"]

MODEL_ARGUMENTS = ("model", "model_a", "model_b")

ModelArg = Annotated[str, Field(description="An installed Ollama model, e.g. 'llama3.2:1b'")]


def register_prompts(mcp: MCPServer[Any]) -> None:
    """Register the prompts and the completion of their model arguments."""

    @mcp.prompt(title="Ask a local model")
    async def ask_local_model(
        model: ModelArg,
        question: Annotated[str, Field(description="What to ask the model")],
        system: Annotated[str, Field(description="Optional system prompt")] = "",
    ) -> str:
        """Ask a local Ollama model a question and show its answer with its speed."""
        call = tool_call("generate_text", model=model, prompt="<the question below>", system=system)
        return (
            f"Answer this with the local Ollama model '{model}': call {call}. Show the model's "
            "answer verbatim, then one line with usage.output_tokens and "
            "usage.tokens_per_second. If the tool says the model is not pulled, ask me before "
            "calling pull_model.\n\n"
            f"Question:\n{question}"
        )

    @mcp.prompt(title="Compare two models on a task")
    async def compare_models_on_task(
        model_a: ModelArg,
        model_b: ModelArg,
        task: Annotated[str, Field(description="The task both models get, word for word")],
        ctx: Context[Any, Any],
    ) -> str:
        """Run the same task on two local models and compare quality and speed."""
        tools = {tool.name for tool in await ctx.mcp_server.list_tools()}
        if "compare_models" in tools:
            how = (
                f"Call compare_models(models=['{model_a}', '{model_b}'], prompts=[<the task "
                "below>]); it runs them one after the other and returns both answers."
            )
        else:
            how = (
                f"Call generate_text twice, once with model='{model_a}' and once with "
                f"model='{model_b}', both with preset='precise' and the task below as the prompt."
            )
        return (
            f"{how} Then put the two answers side by side, judge which one does the task better "
            "and why (correctness first, then completeness and clarity), and add a table of "
            "each model's output tokens and tokens per second, as the results report them. "
            "End with a one-line recommendation.\n\n"
            f"Task:\n{task}"
        )

    register_task_prompts(mcp)
    registry = completion_registry(mcp)
    for argument in MODEL_ARGUMENTS:
        registry.add("prompt", argument, complete_model_names)
