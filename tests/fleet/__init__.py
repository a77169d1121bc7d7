"""Several Ollama hosts behind one server: routing, failover, fleet-wide tools and their answers,
the human CLI; the three fake daemons and a client of them are fixtures in conftest.py."""
