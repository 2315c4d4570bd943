"""ARCHITECTURE.md's room table is the import rule, and the package keeps to it.

The table (one row per room: its path, what it holds, the rooms it may import) is parsed here; it is the
only place the rules live.  Every module's imports of ``latxfer`` are read with ``ast`` (including imports
inside functions and ``TYPE_CHECKING`` blocks), mapped to rooms and checked against the row of the
importing module's room.  A room counts in module form (``latxfer/plan.py``) or package form
(``latxfer/plan/``), and the first column may name flat modules that belong to a room (``cli_*.py``), so
the check holds before and after a room is split into a package.
"""

from __future__ import annotations

import ast
import fnmatch
import importlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "latxfer"
TABLE_HEADER = re.compile(r"^\|\s*room\s*\|\s*holds\s*\|\s*may import\s*\|$")


@dataclass
class Room:
    name: str
    path: str                     # as written, e.g. "latxfer/plan/"
    aliases: list[str] = field(default_factory=list)   # file-name globs, e.g. "cli_*.py"
    may_import: set[str] | None = None                 # None = everything
    pending: bool = False


def _room_name(path: str) -> str:
    rel = path.removeprefix("latxfer/").rstrip("/")
    return "latxfer" if rel == "__init__.py" else rel.removesuffix(".py")


def parse_rooms(text: str | None = None) -> dict[str, Room]:
    """The rooms of ARCHITECTURE.md's table, by short name (``errors``, ``plan``, ``latxfer`` = top level)."""
    lines = (text if text is not None else (ROOT / "ARCHITECTURE.md").read_text()).splitlines()
    start = next(i for i, ln in enumerate(lines) if TABLE_HEADER.match(ln.strip()))
    rooms = {}
    for ln in lines[start + 2:]:
        if not ln.startswith("|"):
            break
        cells = [c.strip() for c in ln.strip().strip("|").split("|")]
        assert len(cells) == 3, f"ARCHITECTURE.md: a room row needs 3 cells: {ln}"
        names = re.findall(r"`([^`]+)`", cells[0])
        assert names and names[0].startswith("latxfer/"), f"ARCHITECTURE.md: no room path in {cells[0]!r}"
        allowed = cells[2].strip()
        if allowed == "everything":
            may = None
        elif allowed == "nothing":
            may = set()
        else:
            may = set(re.findall(r"`([^`]+)`", allowed))
            assert may, f"ARCHITECTURE.md: 'may import' of {names[0]} is neither a list nor nothing/everything"
        room = Room(_room_name(names[0]), names[0], names[1:], may, "(pending)" in cells[0])
        assert room.name not in rooms, f"ARCHITECTURE.md lists {room.name} twice"
        rooms[room.name] = room
    return rooms


ROOMS = parse_rooms()


def room_of_file(rel: Path, rooms=ROOMS) -> str | None:
    """The room a file of ``latxfer/`` (path relative to it) belongs to, or None."""
    first = rel.parts[0]
    if rel == Path("__init__.py"):
        return "latxfer"
    stem = first.removesuffix(".py")
    if stem in rooms and (len(rel.parts) > 1 or first.endswith(".py")):
        return stem
    for r in rooms.values():
        if any(fnmatch.fnmatch(first, a) for a in r.aliases):
            return r.name
    return None


def room_of_module(dotted: str, rooms=ROOMS) -> str | None:
    parts = dotted.split(".")
    if parts == ["latxfer"]:
        return "latxfer"
    sub = PKG / parts[1]
    rel = Path(parts[1]) / "__init__.py" if sub.is_dir() else Path(parts[1] + ".py")
    return room_of_file(rel, rooms)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def latxfer_imports(path: Path) -> list[tuple[int, str]]:
    """``(line, dotted module)`` of every import of latxfer in a file; ``from latxfer import dims`` is
    ``latxfer.dims`` when ``dims`` is a module."""
    mod = _module_name(path)
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "latxfer"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "latxfer":
                continue
            for a in node.names:
                q = ROOT.joinpath(*(target + "." + a.name).split("."))
                sub = q.with_suffix(".py").exists() or (q / "__init__.py").exists()
                out.append((node.lineno, f"{target}.{a.name}" if sub else target))
    return out


MODULES = sorted(p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)


def test_table_parses_into_the_rooms_of_the_design():
    assert {"errors", "dims", "spaces", "data", "models", "plan", "nas", "plots", "cli", "latxfer"} <= set(ROOMS)
    assert ROOMS["cli"].may_import is None and ROOMS["errors"].may_import == set()
    for r in ROOMS.values():
        unknown = (r.may_import or set()) - set(ROOMS)
        assert not unknown, f"ARCHITECTURE.md: {r.path} may import unknown rooms {sorted(unknown)}"
    # the table may not contradict its own "Never" sentence
    for low in ("data", "spaces"):
        assert not ROOMS[low].may_import & {"models", "nas", "plan", "measure"}
    assert not ROOMS["models"].may_import & {"nas", "plan", "cli"}
    assert all("cli" not in (r.may_import or set()) for r in ROOMS.values() if r.name != "cli")


def test_every_listed_room_exists_in_module_or_package_form():
    for r in ROOMS.values():
        rel = r.path.removeprefix("latxfer/").rstrip("/")
        stem = rel.removesuffix(".py")
        exists = (PKG / rel).exists() or (PKG / f"{stem}.py").exists() or (PKG / stem / "__init__.py").exists()
        assert exists or r.pending, f"ARCHITECTURE.md lists {r.path}, which does not exist (mark it *(pending)*?)"


def test_every_module_belongs_to_a_listed_room():
    orphans = [str(p.relative_to(ROOT)) for p in MODULES if room_of_file(p.relative_to(PKG)) is None]
    assert not orphans, f"modules in no room of ARCHITECTURE.md: {orphans}"


def test_imports_follow_the_room_table():
    problems = []
    for path in MODULES:
        src = room_of_file(path.relative_to(PKG))
        allowed = ROOMS[src].may_import if src else None
        for line, target in latxfer_imports(path):
            dst = room_of_module(target)
            where = f"{path.relative_to(ROOT)}:{line} imports {target}"
            if dst is None:
                problems.append(f"{where}, which belongs to no room")
            elif allowed is not None and dst != src and dst not in allowed:
                problems.append(f"{where}: room `{src}` may not import `{dst}` (ARCHITECTURE.md)")
    assert not problems, "\n".join(problems)


def _top_level_names(tree: ast.Module) -> tuple[set[str], list[str] | None, bool]:
    """Names bound at module level (also inside top-level if / try), the literal ``__all__`` (None if
    computed) and whether the module defines ``__getattr__``."""
    names, all_, stack = set(), [], list(tree.body)
    literal = True
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.If, ast.Try)):
            stack += node.body + node.orelse + getattr(node, "finalbody", [])
            stack += [s for h in getattr(node, "handlers", []) for s in h.body]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                names |= {n.id for n in ast.walk(t) if isinstance(n, ast.Name)}
                if isinstance(t, ast.Name) and t.id == "__all__":
                    try:
                        all_ += list(ast.literal_eval(node.value))
                    except ValueError:
                        literal = False
    has_all = "__all__" in names
    return names, (all_ if literal else None) if has_all else [], "__getattr__" in names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_all_names_only_what_exists(path):
    names, all_, lazy = _top_level_names(ast.parse(path.read_text(), str(path)))
    missing = [n for n in all_] if all_ is None else [n for n in all_ if n not in names]
    if all_ is None or (missing and lazy):   # computed __all__ or a lazy module: ask the module itself
        mod = importlib.import_module(_module_name(path))
        missing = [n for n in mod.__all__ if not hasattr(mod, n)]
    assert not missing, f"{path.relative_to(ROOT)}: __all__ names what does not exist: {missing}"
    assert len(set(all_ or [])) == len(all_ or []), f"{path.relative_to(ROOT)}: __all__ repeats a name"


def test_check_catches_a_forbidden_import_and_an_unknown_room(tmp_path):
    """The checker itself: a table that forbids what the code does is caught."""
    text = (ROOT / "ARCHITECTURE.md").read_text().replace(
        "| `latxfer/ranks.py` |", "| `latxfer/nowhere.py` *(pending)* | x | nothing |\n| `latxfer/ranks.py` |")
    # a room that also names flat modules of its own (the alias form of the first column)
    text = text.replace("| `latxfer/cli/` |", "| `latxfer/cli/` (also `cli_*.py`) |")
    rooms = parse_rooms(text)
    assert rooms["nowhere"].pending and rooms["nowhere"].may_import == set()
    assert room_of_file(Path("cli_plan.py"), rooms) == "cli"
    assert room_of_file(Path("plan") / "engine.py", rooms) == "plan"
    assert room_of_file(Path("stray.py"), rooms) is None
    strict = parse_rooms(text.replace("| figures; matplotlib imported lazily, never switching the user's backend | "
                                      "`data`, `models`, `monotonicity`, `evaluate`,",
                                      "| figures | `data`, `models`, `monotonicity`,"))
    assert "evaluate" not in strict["plots"].may_import
