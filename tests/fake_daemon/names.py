"""Model names as Ollama's ``model.ParseName`` reads them: host, namespace, model and tag, with
the registry defaults, case-insensitive keys and the display form the API answers with.
"""

from __future__ import annotations

import dataclasses

DEFAULT_REGISTRY = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"


@dataclasses.dataclass(frozen=True)
class ModelName:
    host: str
    namespace: str
    model: str
    tag: str

    @property
    def key(self) -> str:
        return self.full.lower()

    @property
    def full(self) -> str:
        return f"{self.host}/{self.namespace}/{self.model}:{self.tag}"

    @property
    def display(self) -> str:
        if self.host == DEFAULT_REGISTRY:
            if self.namespace == DEFAULT_NAMESPACE:
                return f"{self.model}:{self.tag}"
            return f"{self.namespace}/{self.model}:{self.tag}"
        return self.full


def _valid_part(kind: str, text: str) -> bool:
    if not text or len(text) > (350 if kind == "host" else 80):
        return False
    if not (text[0].isascii() and (text[0].isalnum() or text[0] == "_")):
        return False
    for ch in text[1:]:
        if ch in "_-":
            continue
        if ch == ".":
            if kind == "namespace":
                return False
            continue
        if ch == ":":
            if kind != "host":
                return False
            continue
        if not (ch.isascii() and ch.isalnum()):
            return False
    return True


def parse_model_name(raw: str) -> ModelName | None:
    """Parse like Ollama's ``model.ParseName`` + ``IsValid``; ``None`` when invalid.

    >>> parse_model_name("llama3.2").display
    'llama3.2:latest'
    >>> parse_model_name("MyOrg/Model:Q4").full
    'registry.ollama.ai/MyOrg/Model:Q4'
    >>> parse_model_name("bad name!") is None
    True
    """
    text = raw.strip()
    if "@" in text:
        text = text.split("@", 1)[0]
    tag = "latest"
    if text.rfind(":") > text.rfind("/"):
        text, tag = text.rsplit(":", 1)
        if not tag:
            return None
    parts = text.split("/")
    if len(parts) == 1:
        host, namespace, model = DEFAULT_REGISTRY, DEFAULT_NAMESPACE, parts[0]
    elif len(parts) == 2:
        host, namespace, model = DEFAULT_REGISTRY, parts[0], parts[1]
    else:
        host = "/".join(parts[:-2])
        if "://" in host:
            host = host.split("://", 1)[1]
        namespace, model = parts[-2], parts[-1]
    name = ModelName(host, namespace, model, tag)
    if not (
        _valid_part("host", host)
        and _valid_part("namespace", namespace)
        and _valid_part("model", model)
        and _valid_part("tag", tag)
    ):
        return None
    return name
