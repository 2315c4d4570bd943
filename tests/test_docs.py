"""The docs stay honest: every code block of README.md and of the user's guide runs, and the site builds.

How the blocks run
------------------
* Every fenced ```` ```bash ```` and ```` ```python ```` block of README.md and ``docs/guide/*.md`` is one
  test, run in document order, the guide's pages in the order of mkdocs.yml's navigation.  README.md runs
  in a fresh working directory; the guide's pages share another one (a reader following the guide in one
  terminal: the Python API page loads the model that the loop's ``latxfer fit`` saved).  The python
  blocks of a page share one namespace.  Other fences
  (``text``, ``toml``, ...) are output or file listings and are not run.
* Shell blocks run as one ``bash -euo pipefail`` script.  A command line starting with ``latxfer`` (or
  ``.venv/bin/latxfer``) runs as ``python -m latxfer.cli`` with this interpreter, after the tiny settings
  of ``TINY_FLAGS`` (the flag's value is set or replaced) so that the page runs in seconds; other lines
  run as written, with ``PLACEHOLDERS`` filled in.  ``latxfer fit`` is memoised by its arguments (without
  ``--out``): the first page fits, later pages get a copy of the same (deterministic, seeded) model.
* Python blocks run with the ``TINY_PYTHON`` replacements.  Every entry of both maps must be used by some
  block (``test_tiny_settings_are_all_used``), so the maps cannot rot.
* An HTML comment right before a block changes how it runs (directives separated by ``;``):

  - ``<!-- docs-test: exit 0,1 -->``: the exit codes the ``latxfer`` commands may end with (a plan whose
    goal is not reachable exits 1; ``exit 1`` alone: the command must find a problem);
  - ``<!-- docs-test: ci -->``: install / test commands; each line must appear verbatim in ``.ci/run``, which
    runs them (running them here would recurse);
  - ``<!-- docs-test: needs measure -->``: needs ``latxfer measure`` (issue 28); skipped with that reason
    until the command exists (``latxfer measure --help`` exits 0), then it runs;
  - ``<!-- docs-test: slow -->``: marked ``slow`` (skipped by default);
  - ``<!-- docs-test: skip REASON -->``: not run, with the reason shown.

Two pages are run by their own room's tests instead (``OWN_TEST_PAGES``): ``guide/measure.md``'s loop by
tests/measure/test_loop.py (it times real networks), ``guide/many-workers.md`` by tests/nas/test_postgres.py
(it needs a PostgreSQL server, which .ci/run starts).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import re
import shlex
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from latxfer.errors import LatxferWarning

ROOT = Path(__file__).resolve().parents[1]
OWN_TEST_PAGES = {"measure.md", "many-workers.md"}


def _guide_pages() -> list[Path]:
    """The guide's pages in the order of mkdocs.yml's navigation, then any page the navigation misses."""
    nav = re.findall(r"guide/([\w.-]+\.md)", (ROOT / "mkdocs.yml").read_text())
    pages = [ROOT / "docs" / "guide" / n for n in dict.fromkeys(nav)]
    pages += sorted(set((ROOT / "docs" / "guide").glob("*.md")) - set(pages))
    return [p for p in pages if p.name not in OWN_TEST_PAGES and p.exists()]


PAGES = [ROOT / "README.md"] + _guide_pages()

#: tiny settings per subcommand: flag -> value (set, or replaced when the block gives it)
TINY_FLAGS = {
    "fit": {"--model": "hier-fast"},
    "plan": {"--worlds": "2", "--max": "5"},
    "search": {"--trials": "40"},
    "monotonicity": {"--n-boot": "20"},
    "measure": {"--repeats": "3", "--warmup": "1"},   # issue 28 contract; blocks run once it exists
}
#: the same for python blocks: exact text -> replacement
TINY_PYTHON = {
    'LatencyModel("hier")': 'LatencyModel("hier-fast")',
    "n_worlds=20": "n_worlds=2",
    "max_k=50": "max_k=5",
    "n_trials=500": "n_trials=40",
    "n_boot=1000": "n_boot=20",
}
PLACEHOLDERS = {"/path/to/shared/data": os.environ.get("LATXFER_DATA", "")}
LATXFER = ("latxfer", ".venv/bin/latxfer")
FENCE = re.compile(r"^```(\w*)\s*$")
DIRECTIVE = re.compile(r"^<!--\s*docs-test:\s*(.*?)\s*-->$")


@dataclass
class Block:
    page: Path
    line: int
    lang: str
    code: str
    directives: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def parse_blocks(page: Path) -> list[Block]:
    """The ``bash`` / ``python`` blocks of a markdown page, with the directives of the comment before each."""
    lines = page.read_text().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m or not m.group(1):
            i += 1
            continue
        start, lang = i, m.group(1)
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        k = start - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        directives = {}
        d = DIRECTIVE.match(lines[k].strip()) if k >= 0 else None
        if d:
            for part in d.group(1).split(";"):
                key, _, value = part.strip().partition(" ")
                directives[key] = value.strip()
        if lang in ("bash", "python"):
            blocks.append(Block(page, start + 1, lang, "\n".join(lines[start + 1:j]), directives))
        i = j + 1
    return blocks


BLOCKS = [b for p in PAGES for b in parse_blocks(p)]
_USED: set[str] = set()


def _logical_lines(code: str) -> list[str]:
    out, cur = [], ""
    for raw in code.splitlines():
        if raw.rstrip().endswith("\\"):
            cur += raw.rstrip()[:-1] + " "
            continue
        cur += raw
        if cur.strip() and not cur.strip().startswith("#"):
            out.append(cur.strip())
        cur = ""
    return out


def _tiny(argv: list[str]) -> list[str]:
    argv = list(argv)
    for flag, value in TINY_FLAGS.get(argv[0] if argv else "", {}).items():
        _USED.add(f"{argv[0]} {flag}")
        if flag in argv:
            argv[argv.index(flag) + 1] = value
        else:
            argv += [flag, value]
    return argv


def shell_script(block: Block, cache: Path) -> str:
    """The block as a bash script: ``latxfer`` lines rewritten (tiny settings, fit memo), others as written."""
    codes = block.directives.get("exit", "0").replace(" ", "").split(",")
    lines = []
    for line in _logical_lines(block.code):
        for k, v in PLACEHOLDERS.items():
            line = line.replace(k, v)
        tokens = shlex.split(line, comments=True)
        if not tokens or tokens[0] not in LATXFER:
            lines.append(line)
            continue
        argv = _tiny(tokens[1:])
        cmd = shlex.join([sys.executable, "-m", "latxfer.cli", *argv])
        if argv and argv[0] == "fit" and "--out" in argv:
            out = argv[argv.index("--out") + 1]
            key = [a for i, a in enumerate(argv) if a != "--overwrite"
                   and a != "--out" and (i == 0 or argv[i - 1] != "--out")]
            memo = cache / (hashlib.sha256(" ".join(key).encode()).hexdigest()[:16] + ".zarr")
            mine = [a if a != out else str(memo) for a in argv]
            cmd = (f"[ -e {shlex.quote(str(memo))} ] || "
                   f"{shlex.join([sys.executable, '-m', 'latxfer.cli', *mine])}; "
                   f"rm -rf {shlex.quote(out)}; cp -r {shlex.quote(str(memo))} {shlex.quote(out)}")
            if "--overwrite" not in argv:
                cmd = f"[ ! -e {shlex.quote(out)} ] || {{ echo 'exists: {out}' >&2; exit 2; }}; " + cmd
        if codes != ["0"]:  # exactly these exit codes are accepted
            ok = " -o ".join(f"$rc -eq {int(c)}" for c in codes)
            cmd = f"{{ {cmd}; }} && rc=0 || rc=$?; [ {ok} ] || exit 1"
        lines.append(cmd)
    return "\n".join(lines) + "\n"


def python_source(block: Block) -> str:
    src = block.code
    for old, new in TINY_PYTHON.items():
        if old in src:
            _USED.add(old)
            src = src.replace(old, new)
    return src


@functools.lru_cache(maxsize=1)
def _has_measure() -> bool:
    r = subprocess.run([sys.executable, "-m", "latxfer.cli", "measure", "--help"], capture_output=True,
                       cwd=ROOT, env=_env())
    return r.returncode == 0


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("MPLBACKEND", "Agg")
    env["LATXFER_OFFLINE"] = "1"
    return env


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """Per page: its working directory, its python namespace, and whether an earlier block failed."""
    return {"root": tmp_path_factory.mktemp("docs"), "pages": {}}


def _page_state(workspace, page: Path):
    """README.md has its own directory; the guide's pages share one, as a reader following the guide in
    one terminal does (the Python API page loads the model the loop's `latxfer fit` saved)."""
    st = workspace["pages"].get(page)
    if st is None:
        d = workspace["root"] / ("readme" if page.name == "README.md" else "guide")
        d.mkdir(exist_ok=True)
        st = workspace["pages"][page] = {"dir": d, "ns": {"__name__": "__docs__"}, "failed": None}
    return st


def _params():
    for b in BLOCKS:
        marks = [pytest.mark.slow] if "slow" in b.directives else []
        yield pytest.param(b, id=b.id, marks=marks)


@pytest.mark.parametrize("block", list(_params()))
def test_doc_block(block: Block, workspace, data_dir, monkeypatch):
    st = _page_state(workspace, block.page)
    if "skip" in block.directives:
        pytest.skip(block.directives["skip"] or "marked skip")
    if "ci" in block.directives:
        ci = (ROOT / ".ci" / "run").read_text()
        for line in _logical_lines(block.code):
            assert line in ci, f"{block.id}: `{line}` is not what .ci/run runs"
        return
    if "needs" in block.directives:
        assert block.directives["needs"] == "measure", block.directives
        if not _has_measure():
            pytest.skip("needs `latxfer measure` (issue 28): runs once the command exists")
    if st["failed"]:
        pytest.fail(f"an earlier block of this page failed: {st['failed']}")
    try:
        if block.lang == "bash":
            cache = workspace["root"] / "_fit_cache"
            cache.mkdir(exist_ok=True)
            r = subprocess.run(["bash", "-euo", "pipefail", "-c", shell_script(block, cache)],
                               cwd=st["dir"], env=_env(), capture_output=True, text=True, timeout=600)
            assert r.returncode == 0, (f"{block.id} exited {r.returncode}\n--- stdout\n{r.stdout[-3000:]}"
                                       f"\n--- stderr\n{r.stderr[-3000:]}")
            assert "Traceback" not in r.stderr, r.stderr[-3000:]
        else:
            monkeypatch.chdir(st["dir"])
            with warnings.catch_warnings():
                # a user sees latxfer's warnings (e.g. the tiny fit's ConvergenceWarning); they are not errors
                warnings.simplefilter("always", LatxferWarning)
                exec(compile(python_source(block), block.id, "exec"), st["ns"])
    except BaseException:
        st["failed"] = block.id
        raise


def test_tiny_settings_are_all_used():
    """Every tiny setting is used by some block: an entry no block needs is a sign the docs changed."""
    for b in BLOCKS:
        if b.lang == "python":
            python_source(b)
        else:
            for line in _logical_lines(b.code):
                tokens = shlex.split(line, comments=True)
                if tokens and tokens[0] in LATXFER:
                    _tiny(tokens[1:])
    wanted = {f"{c} {f}" for c, fl in TINY_FLAGS.items() for f in fl} | set(TINY_PYTHON)
    assert wanted <= _USED, f"unused tiny settings: {sorted(wanted - _USED)}"


def test_every_page_has_runnable_blocks_or_none_by_design():
    """The parser sees the pages' blocks (a broken fence would silently hide them)."""
    assert len(BLOCKS) >= 20
    for page in PAGES:
        assert page.read_text().count("```") % 2 == 0, f"{page}: unbalanced code fences"


def test_shell_rewrite_applies_tiny_settings(tmp_path):
    b = Block(ROOT / "README.md", 1, "bash",
              "latxfer plan --model m.zarr --goal 'srcc>=0.9' --worlds 20 \\\n    --out next.csv  # comment")
    script = shell_script(b, tmp_path)
    assert "--worlds 2" in script and "--max 5" in script and "latxfer.cli plan" in script
    assert "comment" not in script


@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None
                    or importlib.util.find_spec("mkdocstrings") is None,
                    reason="mkdocs / mkdocstrings not installed (pip install -e '.[docs]')")
def test_site_builds_strict(tmp_path):
    """The user's guide and the API reference build with warnings as errors (broken links, bad docstrings)."""
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                       cwd=ROOT, env={**_env(), "NO_MKDOCS_2_WARNING": "1"}, capture_output=True, text=True,
                       timeout=300)
    warnings = [ln for ln in r.stderr.splitlines() if "WARNING" in ln or "ERROR" in ln]
    assert r.returncode == 0, "mkdocs build --strict failed:\n" + "\n".join(warnings or [r.stderr[-3000:]])
    assert (tmp_path / "site" / "api" / "models" / "index.html").exists()
