"""The fake Ollama daemon, one module per concern; use it through `tests.fake_ollama`.

`state` holds `FakeOllama`, whose app is `dispatch._Dispatcher`: it routes each request to the
handler mixins of `generation` (generate, chat, embed) and `management` (show, pull, create,
copy, delete, blobs), which bind requests with `binding` against the structs of `fields` and
answer through `streaming`, where the fault modes apply; `server` serves it on loopback sockets
and runs it as a process.
"""
