"""The ``api.*`` request structs the handlers bind, as field name → Go type tables: what
`tests.fake_daemon.binding` checks each JSON field against (unknown fields are ignored).
"""

from __future__ import annotations

from collections.abc import Mapping

FieldSpec = Mapping[str, str]

GENERATE_FIELDS: FieldSpec = {
    "model": "string",
    "prompt": "string",
    "suffix": "string",
    "system": "string",
    "template": "string",
    "context": "[]int",
    "stream": "bool",
    "raw": "bool",
    "format": "any",
    "keep_alive": "duration",
    "images": "images",
    "options": "map[string]interface {}",
    "think": "think",
    "truncate": "bool",
    "shift": "bool",
    "logprobs": "bool",
    "top_logprobs": "int",
}
CHAT_FIELDS: FieldSpec = {
    "model": "string",
    "messages": "messages",
    "tools": "api.Tools",
    "stream": "bool",
    "format": "any",
    "keep_alive": "duration",
    "options": "map[string]interface {}",
    "think": "think",
    "truncate": "bool",
    "shift": "bool",
    "logprobs": "bool",
    "top_logprobs": "int",
}
EMBED_FIELDS: FieldSpec = {
    "model": "string",
    "input": "any",
    "truncate": "bool",
    "dimensions": "int",
    "keep_alive": "duration",
    "options": "map[string]interface {}",
}
EMBEDDINGS_FIELDS: FieldSpec = {
    "model": "string",
    "prompt": "string",
    "keep_alive": "duration",
    "options": "map[string]interface {}",
}
SHOW_FIELDS: FieldSpec = {
    "model": "string",
    "name": "string",
    "system": "string",
    "template": "string",
    "verbose": "bool",
    "options": "map[string]interface {}",
}
PULL_FIELDS: FieldSpec = {
    "model": "string",
    "name": "string",
    "insecure": "bool",
    "stream": "bool",
    "username": "string",
    "password": "string",
}
DELETE_FIELDS: FieldSpec = {"model": "string", "name": "string"}
COPY_FIELDS: FieldSpec = {"source": "string", "destination": "string"}
CREATE_FIELDS: FieldSpec = {
    "model": "string",
    "name": "string",
    "from": "string",
    "files": "map[string]string",
    "adapters": "map[string]string",
    "template": "string",
    "license": "any",
    "system": "string",
    "parameters": "map[string]interface {}",
    "messages": "messages",
    "quantize": "string",
    "stream": "bool",
}

_MESSAGE_FIELDS: FieldSpec = {
    "role": "string",
    "content": "string",
    "thinking": "string",
    "images": "images",
    "tool_calls": "[]api.ToolCall",
    "tool_name": "string",
    "tool_call_id": "string",
}
