"""The fakes judged against the real things: the fake daemon through the official `ollama` client
and raw HTTP, the fake `ollama` executable against the real CLI's output (fixtures in
conftest.py, helpers in helpers.py)."""
