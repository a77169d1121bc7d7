"""The fake ``ollama`` executable, one module per concern; use it through
`tests.fake_ollama_cli`. Only the standard library is imported here (``serve`` imports the fake
daemon lazily), so each CLI call stays fast.
"""
