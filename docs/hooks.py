"""mkdocs hook: render the numpydoc docstrings' Sphinx roles as plain code spans."""

from __future__ import annotations

import re

# The docstrings are numpydoc with Sphinx cross-reference roles (:class:`DevicePosterior`); mkdocstrings
# renders the role name as text before the code span.  Drop it, keep the code span.
_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|data|obj|exc):(?=<code>)")


def on_page_content(html, page, config, files):
    return _ROLE.sub("", html)
