"""The fault matrix through a real MCP client (the daemon's faults, the disk's faults).

Each case saves data first, injects one fault, and checks three things: the call that meets it
ends in an `isError` result that says what to do next, the next call succeeds once the fault is
gone, and every saved file is still there, byte for byte, with no temporary file left in the
data directory (see helpers.py; the saved data is made by conftest.py's fixtures).
"""
