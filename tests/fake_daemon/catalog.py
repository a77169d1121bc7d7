"""The model catalogue: `FakeModel` (one installed or pullable model), the templates and
licences real models ship, the three models installed by default and the ones only pullable.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from tests.fake_daemon.goformat import _digest_of, go_float64, go_json, go_quote
from tests.fake_daemon.names import ModelName, parse_model_name

LLAMA_TEMPLATE = """<|start_header_id|>system<|end_header_id|>

Cutting Knowledge Date: December 2023

{{ if .System }}{{ .System }}
{{- end }}
{{- if .Tools }}When you receive a tool call response, use the output to format an answer
to the orginal user question.

You are a helpful assistant with tool calling capabilities.
{{- end }}<|eot_id|>
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 }}
{{- if eq .Role "user" }}<|start_header_id|>user<|end_header_id|>

{{ .Content }}<|eot_id|>{{ if $last }}<|start_header_id|>assistant<|end_header_id|>

{{ end }}
{{- else if eq .Role "assistant" }}<|start_header_id|>assistant<|end_header_id|>

{{ .Content }}{{ if not $last }}<|eot_id|>{{ end }}
{{- end }}
{{- end }}"""

LLAMA_LICENSE = """LLAMA 3.2 COMMUNITY LICENSE AGREEMENT
Llama 3.2 Version Release Date: September 25, 2024

“Agreement” means the terms and conditions for use, reproduction, distribution
and modification of the Llama Materials set forth herein.

“Documentation” means the specifications, manuals and documentation accompanying Llama 3.2
distributed by Meta at https://llama.meta.com/doc/overview."""

QWEN_TEMPLATE = """{{- if .Messages }}
{{- if or .System .Tools }}<|im_start|>system
{{- if .System }}
{{ .System }}
{{- end }}
{{- if .Tools }}

# Tools

You may call one or more functions to assist with the user query.
{{- end }}<|im_end|>
{{ end }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 -}}
{{- if eq .Role "user" }}<|im_start|>user
{{ .Content }}<|im_end|>
{{ else if eq .Role "assistant" }}<|im_start|>assistant
{{ if .Content }}{{ .Content }}{{ end }}{{ if not $last }}<|im_end|>
{{ end }}
{{- end }}
{{- if and (ne .Role "assistant") $last }}<|im_start|>assistant
{{ end }}
{{- end }}
{{- else }}
{{- if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}{{ if .Prompt }}<|im_start|>user
{{ .Prompt }}<|im_end|>
{{ end }}<|im_start|>assistant
{{ end }}{{ .Response }}{{ if .Response }}<|im_end|>{{ end }}"""

APACHE_LICENSE = """                                 Apache License
                           Version 2.0, January 2004
                        http://www.apache.org/licenses/

   TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION

   1. Definitions."""

GEMMA_LICENSE = """Gemma Terms of Use

Last modified: February 21, 2024

By using, reproducing, modifying, distributing, performing or displaying any portion or
element of Gemma, Model Derivatives including via any Hosted Service, you agree to be bound."""

GENERIC_TEMPLATE = "{{ .System }}\n{{ .Prompt }}"


@dataclasses.dataclass
class FakeModel:
    """One installed (or pullable) model. Mutate fields freely from tests."""

    name: str
    family: str
    parameter_size: str
    quantization_level: str
    size: int
    digest: str
    modified_at_ns: int
    context_length: int
    embedding_length: int
    parameter_count: int
    capabilities: list[str]
    families: list[str] | None = None
    block_count: int = 16
    tokens_per_second: float | None = None
    ttft: float | None = None
    license: str = ""
    template: str = GENERIC_TEMPLATE
    system: str = ""
    parameters: list[tuple[str, Any]] = dataclasses.field(default_factory=list)
    parent_model: str = ""
    format: str = "gguf"
    blob_digest: str = ""

    def __post_init__(self) -> None:
        if self.families is None:
            self.families = [self.family]
        if not self.blob_digest:
            self.blob_digest = _digest_of("blob", self.name, str(self.size))

    @property
    def ref(self) -> ModelName:
        parsed = parse_model_name(self.name)
        assert parsed is not None, self.name
        return parsed

    @property
    def key(self) -> str:
        return self.ref.key

    @property
    def details(self) -> dict[str, Any]:
        return {
            "parent_model": self.parent_model,
            "format": self.format,
            "family": self.family,
            "families": list(self.families or [self.family]),
            "parameter_size": self.parameter_size,
            "quantization_level": self.quantization_level,
        }

    def parameters_text(self) -> str:
        return "\n".join(f"{key:<30} {_go_sharp_v(value)}" for key, value in self.parameters)

    def layers(self) -> list[tuple[str, int]]:
        """(digest hex, size) of the blobs a pull downloads."""
        layers = [(self.blob_digest, self.size)]
        if self.template:
            layers.append((_digest_of("template", self.template), len(self.template.encode())))
        if self.license:
            layers.append((_digest_of("license", self.license), len(self.license.encode())))
        if self.parameters:
            params = go_json(dict(self.parameters))
            layers.append((_digest_of("params", params), len(params.encode())))
        return layers


def _go_sharp_v(value: Any) -> str:
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float64(value)
    return str(value)


def _file_type(quant: str) -> int:
    return {"F32": 0, "F16": 1, "Q4_0": 2, "Q8_0": 7, "Q4_K_M": 15, "Q6_K": 18, "BF16": 32}.get(
        quant.upper(), 15
    )


def _parameter_size(count: int) -> str:
    if count >= 1_000_000_000:
        return f"{count / 1e9:.1f}B".replace(".0B", "B")
    return f"{count / 1e6:.2f}M"


def _default_models(now_ns: int) -> list[FakeModel]:
    day = 86_400 * 1_000_000_000
    hour = 3_600 * 1_000_000_000
    return [
        FakeModel(
            name="llama3.2:1b",
            family="llama",
            parameter_size="1.2B",
            quantization_level="Q8_0",
            size=1_321_098_329,
            digest="baf6a787fdffd633537aa2eb51cfd54cb93ff08e28040095462bb63daf552878",
            modified_at_ns=now_ns - 2 * day - 5 * hour - 706_015_396,
            context_length=131072,
            embedding_length=2048,
            parameter_count=1_235_814_432,
            block_count=16,
            capabilities=["completion", "tools"],
            license=LLAMA_LICENSE,
            template=LLAMA_TEMPLATE,
            parameters=[
                ("stop", "<|start_header_id|>"),
                ("stop", "<|end_header_id|>"),
                ("stop", "<|eot_id|>"),
            ],
            blob_digest="74701a8c35f6c8d9a4b91f3f3497643001d63e0c7a84e085bed452548fa88d45",
        ),
        FakeModel(
            name="qwen3:0.6b",
            family="qwen3",
            parameter_size="751.63M",
            quantization_level="Q4_K_M",
            size=522_653_767,
            digest="7df6b6e09427a769808717c0a93cadc4ae99ed4eb8bf5ca557c90846becea435",
            modified_at_ns=now_ns - 5 * hour - 239_102_114,
            context_length=40960,
            embedding_length=1024,
            parameter_count=751_632_384,
            block_count=28,
            capabilities=["completion", "tools", "thinking"],
            license=APACHE_LICENSE,
            template=QWEN_TEMPLATE,
            parameters=[
                ("repeat_penalty", 1),
                ("stop", "<|im_start|>"),
                ("stop", "<|im_end|>"),
                ("temperature", 0.6),
                ("top_k", 20),
                ("top_p", 0.95),
            ],
            blob_digest="7f4030143c1c477224c5434f8272c662a8b042079a0a584f0a27a1684fe2e1fa",
        ),
        FakeModel(
            name="nomic-embed-text:latest",
            family="nomic-bert",
            parameter_size="137M",
            quantization_level="F16",
            size=274_302_450,
            digest="0a109f422b47e3a30ba2b10eca18548e944e8a23073ee3f3e947efcf3c45e59f",
            modified_at_ns=now_ns - 23 * day - 802_345_001,
            context_length=2048,
            embedding_length=768,
            parameter_count=136_727_040,
            block_count=12,
            capabilities=["embedding"],
            license=APACHE_LICENSE,
            template="{{ .Prompt }}",
            parameters=[("num_ctx", 8192)],
            blob_digest="970aa74c0a90ef7482477cf803618e776e173c007bf957f635f1015bfcfef0e6",
        ),
    ]


def _catalog_models(now_ns: int) -> list[FakeModel]:
    """Models that are not installed by default but can be pulled."""
    return [
        FakeModel(
            name="tinyllama:latest",
            family="llama",
            parameter_size="1B",
            quantization_level="Q4_0",
            size=637_700_138,
            digest="2644915ede352ea7bdfaff0bfac0be74c719d5d5202acb63a6fb095b52f394a4",
            modified_at_ns=now_ns,
            context_length=2048,
            embedding_length=2048,
            parameter_count=1_100_048_384,
            block_count=22,
            capabilities=["completion"],
            license=APACHE_LICENSE,
            template="<|system|>\n{{ .System }}</s>\n<|user|>\n{{ .Prompt }}</s>\n<|assistant|>\n",
            parameters=[("stop", "<|system|>"), ("stop", "<|user|>"), ("stop", "</s>")],
            blob_digest="2af3b81862c6be03c769683af18efdadb2c33f60ff32ab6f83e42c043d6c7816",
        ),
        FakeModel(
            name="gemma3:270m",
            family="gemma3",
            parameter_size="268.10M",
            quantization_level="Q8_0",
            size=291_554_930,
            digest="e7d36fb2c3b3293cfe56d55889867a064b3a2b22e98335f2e6e8a387e081d6be",
            modified_at_ns=now_ns,
            context_length=32768,
            embedding_length=640,
            parameter_count=268_098_176,
            block_count=18,
            capabilities=["completion"],
            license=GEMMA_LICENSE,
            template="{{ .Prompt }}",
            parameters=[("stop", "<end_of_turn>"), ("temperature", 1), ("top_k", 64)],
            blob_digest="735af2139dc652bf01112746474883d79a52fa1c19038265d363e3d42556f7a2",
        ),
    ]
