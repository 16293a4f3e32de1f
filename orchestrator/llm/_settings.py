"""``[llm]``: which model answers the judge's questions, where it is served, and how patiently.

The section is part of the project configuration (:mod:`orchestrator.config`, where every
section lives); it is re-exported here beside the client that reads it. It holds no secret:
``api_key_env`` names the environment variable that holds the key, which is read when a client
is made and never stored in a file, a log or an event.
"""

from __future__ import annotations

from orchestrator.config import LlmSection

__all__ = ["LlmSection"]
