"""Benchmarks and comparisons from Ollama's own counters, and the saved reports with their
renderings (Markdown, SVG).

Owns: measuring models and keeping what was measured.
Must not import: `mcp`, the front ends, or another capability's internals; it may use
`generation` and `fleet` through their package roots.
"""
