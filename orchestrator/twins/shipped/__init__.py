"""The twins shipped with orchestrate: one folder per twin, plus the Python behaviour of some.

``github`` and ``gitlab`` are declarative (``twin.json`` + ``routes.yaml``); ``openai``,
``slack``, ``jira`` and ``okta`` name a module here (``_openai.py``, ...) for behaviour a
declaration cannot express. Each folder's ``seed.yaml`` is its default state.
"""

__all__: list[str] = []
