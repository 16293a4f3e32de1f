"""An example orchestrate driver plugin: ``static-html`` audits a folder of HTML pages.

Installing this package registers :class:`StaticHtmlDriver` in the ``orchestrate.drivers``
entry-point group (see ``pyproject.toml``); a test profile with ``driver: static-html`` then runs
it in ``orchestrate test`` like a shipped driver, and the UX evaluator turns its axe-format
results into findings.
"""

from __future__ import annotations

from orchestrate_example_driver._audit import PageAudit, audit_page
from orchestrate_example_driver._driver import DRIVER_NAME, StaticHtmlDriver, capture_static_site, site_folder

__all__ = ["DRIVER_NAME", "PageAudit", "StaticHtmlDriver", "audit_page", "capture_static_site", "site_folder"]
