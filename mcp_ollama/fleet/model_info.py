"""What the daemon says about a model, as the results tools return: `/api/show` as `ModelInfo`,
an `/api/ps` entry as `RunningModelInfo`."""

from __future__ import annotations

from mcp_ollama.ollama.names import canonical_name
from mcp_ollama.ollama.types import RunningModel, ShowResponse
from mcp_ollama.results import ModelInfo, RunningModelInfo, human_bytes

__all__ = ["model_info", "running_info"]


def model_info(model: str, show: ShowResponse, host: str | None) -> ModelInfo:
    """One installed model's details from its `/api/show` answer (`host`: where, with several)."""
    arch = show.model_info.get("general.architecture")
    embedding = show.model_info.get(f"{arch}.embedding_length") if arch else None
    license_head = "\n".join(show.license.strip().splitlines()[:3])
    return ModelInfo(
        name=canonical_name(model) if ":" not in model else model,
        family=show.details.family or None,
        parameter_size=show.details.parameter_size or None,
        quantization=show.details.quantization_level or None,
        format=show.details.format or None,
        context_length=show.context_length,
        embedding_length=int(embedding) if isinstance(embedding, int | float) else None,
        capabilities=show.capabilities,
        parameters=show.parameters,
        template=show.template,
        system=show.system,
        license=license_head,
        modified_at=show.modified_at,
        model_info={k: v for k, v in show.model_info.items() if not isinstance(v, list)},
        host=host,
    )


def running_info(model: RunningModel) -> RunningModelInfo:
    """A loaded model: its memory, and how it is split between CPU and GPU."""
    if model.size_vram == 0:
        processor = "100% CPU"
    elif model.size_vram >= model.size:
        processor = "100% GPU"
    else:
        gpu = round(100 * model.size_vram / model.size)
        processor = f"{100 - gpu}%/{gpu}% CPU/GPU"
    return RunningModelInfo(
        name=model.name,
        size_bytes=model.size,
        size=human_bytes(model.size),
        vram_bytes=model.size_vram,
        processor=processor,
        context_length=model.context_length,
        expires_at=model.expires_at,
    )
