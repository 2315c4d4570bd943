"""mkdocs hook: pages that other branches of the restructure write.

``docs/guide/measure.md`` (the ``latxfer measure`` room) and ``docs/guide/many-workers.md`` (NAS with a
shared study) are written on their own branches.  Until they are merged, this hook adds a one-line page in
their place so that the navigation and the links to them build with ``--strict``; once the real file exists
the hook does nothing.  Delete this hook (and its line in mkdocs.yml) when both pages are in.
"""

from __future__ import annotations

import re

from mkdocs.structure.files import File

PENDING = {
    "guide/measure.md": ("Measure your own device",
                         "`latxfer measure` (issue 28) times the architectures `latxfer plan` proposes."),
    "guide/many-workers.md": ("Many workers",
                              "Several `latxfer search` workers sharing one Optuna study."),
}


def on_files(files, config):
    for uri, (title, what) in PENDING.items():
        if files.get_file_from_path(uri) is None:
            text = f"# {title}\n\n{what} This page arrives with that branch.\n"
            files.append(File.generated(config, uri, content=text))
    return files


# The docstrings are numpydoc with Sphinx cross-reference roles (:class:`DevicePosterior`); mkdocstrings
# renders the role name as text before the code span.  Drop it, keep the code span.
_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|data|obj|exc):(?=<code>)")


def on_page_content(html, page, config, files):
    return _ROLE.sub("", html)
