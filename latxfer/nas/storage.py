"""Optuna storages from URLs, and the study a search creates or resumes (checked against the problem).

Database servers (PostgreSQL, MySQL) and SQLite are Optuna's ``RDBStorage``, opened with a heartbeat: a
worker's RUNNING trial records a heartbeat every :func:`heartbeat_seconds` (default 5 s, environment
variable ``LATXFER_HEARTBEAT_S``) and a RUNNING trial whose heartbeat is older than three beats (the grace
period) belongs to a killed worker and is failed (:func:`fail_stale_trials`) when a search starts or
resumes, before every trial and while a trial waits for a slot, so nothing waits for it forever while
live workers' trials stay alive.
A journal file has no heartbeat: there a RUNNING trial older than the grace period is failed (a latxfer
trial is two array look-ups, milliseconds).

Every message names the storage URL without its password (:func:`redact_url`).
"""

from __future__ import annotations

import importlib.util
import os
import random
import re
import time
import warnings
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from latxfer.errors import ConfigError, StorageError, StudyMismatchError
from latxfer.nas.inputs import _ATTR, DIRECTIONS, METRIC_NAMES

if TYPE_CHECKING:
    from latxfer.nas.problem import NASProblem

__all__ = ["storage_kind", "open_storage", "redact_url", "heartbeat_seconds", "fail_stale_trials"]

#: Environment variable: heartbeat interval (whole seconds >= 1) of database storages.
HEARTBEAT_ENV = "LATXFER_HEARTBEAT_S"
DEFAULT_HEARTBEAT_S = 5
GRACE_BEATS = 3  # a RUNNING trial is stale after this many missed heartbeats
_FP_ATTR = "latxfer_fingerprints"  # study user attribute: fingerprints of the model and the target data


def heartbeat_seconds() -> int:
    """Heartbeat interval (s) of database storages: ``$LATXFER_HEARTBEAT_S`` or 5; stale after 3 beats.

    Returns
    -------
    int
        Seconds between heartbeats of a running trial.

    Raises
    ------
    ConfigError
        ``$LATXFER_HEARTBEAT_S`` is not a whole number of seconds >= 1.
    """
    v = os.environ.get(HEARTBEAT_ENV, "").strip()
    if not v:
        return DEFAULT_HEARTBEAT_S
    if not v.isdigit() or int(v) < 1:
        raise ConfigError(f"{HEARTBEAT_ENV}={v!r}: expected a whole number of seconds >= 1")
    return int(v)


def redact_url(url) -> str:
    """The storage URL as it may be printed: a database URL's password replaced by ``***``.

    Parameters
    ----------
    url : str or None
        A storage URL as :func:`open_storage` takes it.

    Returns
    -------
    str
        ``postgresql://user:***@host/db`` for a database URL with a password; other URLs unchanged;
        ``"memory"`` for None.
    """
    if url is None:
        return "memory"
    u = str(url).strip()
    if "://" not in u or u.startswith("journal:"):
        return u
    try:
        from sqlalchemy.engine import make_url

        return make_url(u).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not parseable by SQLAlchemy: cut "user:password@" by hand
        return re.sub(r"(://[^/@:]*):[^@]*@", r"\1:***@", u)


def _scrub(text: str, url) -> str:
    """``text`` without the URL's password (a driver may echo parts of the URL)."""
    try:
        from sqlalchemy.engine import make_url

        pw = make_url(str(url).strip()).password
    except Exception:  # noqa: BLE001
        m = re.search(r"://[^/@:]*:([^@]*)@", str(url))
        pw = m.group(1) if m else None
    if pw:
        text = text.replace(str(pw), "***")
    return text


def _first_line(exc: BaseException, url) -> str:
    msg = str(exc).strip()
    msg = msg.splitlines()[0] if msg else type(exc).__name__
    msg = re.sub(r"^\([\w.]+\)\s*", "", msg)  # SQLAlchemy's "(psycopg.OperationalError) " prefix
    return _scrub(msg, url)


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a module set to None in sys.modules (tests), or a broken one
        return False


_PG = re.compile(r"^(postgresql|postgres)://", re.IGNORECASE)


def _sqlalchemy_url(u: str) -> str:
    """Bare ``.db`` paths -> SQLite; ``postgresql://`` -> the installed driver (psycopg 3, else psycopg2)."""
    if "://" not in u:
        return f"sqlite:///{u}"
    if _PG.match(u):
        driver = "psycopg" if _installed("psycopg") or not _installed("psycopg2") else "psycopg2"
        return _PG.sub(f"postgresql+{driver}://", u)
    return u


def open_storage(url: str | None):
    """Open an Optuna storage from a URL; ``None`` means in memory (returns None).

    URL conventions:

    * ``None`` / ``"memory"``: in-memory (one process).
    * ``sqlite:///relative.db``, ``sqlite:////abs/path.db``, ``postgresql://user:password@host:5432/db``,
      ``mysql://...``: Optuna's RDB storage (any SQLAlchemy URL), with a heartbeat (see the module
      docstring).  A bare path ending in ``.db`` / ``.sqlite`` means SQLite.  ``postgresql://`` uses
      psycopg 3 (``pip install 'latxfer[postgres]'``), or psycopg2 when only that is installed.
    * ``journal:///abs/path.log``, ``journal://relative.log``, or a bare path ending in ``.log`` /
      ``.journal``: Optuna's JournalStorage on a JournalFileBackend (append-only file, good for many
      processes on one machine or a shared POSIX file system).

    Raises
    ------
    ConfigError
        The URL cannot be interpreted.
    StorageError
        The storage cannot be opened: a missing directory, a missing database driver, a server that
        refuses the connection (wrong password, database absent) or cannot be reached.  The message names
        the URL without its password.
    """
    kind = storage_kind(url)
    if kind == "memory":
        return None
    u = str(url).strip()
    if kind == "journal":
        return _open_journal(url, u)
    return _open_rdb(url, _sqlalchemy_url(u))


def _open_journal(url, u: str):
    path = u[len("journal://"):] if u.startswith("journal://") else (
        u[len("journal:"):] if u.startswith("journal:") else u)
    if not path:
        raise ConfigError(f"storage {url!r}: no journal file path")
    p = Path(path)
    if not p.parent.exists():
        raise StorageError(f"cannot open storage {url!r}: directory {str(p.parent)!r} does not exist")
    if p.is_dir():
        raise StorageError(f"cannot open storage {url!r}: {str(p)!r} is a directory, not a journal file")
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    try:
        with open(p, "ab"):
            pass
        return JournalStorage(JournalFileBackend(str(p)))
    except OSError as exc:
        raise StorageError(f"cannot open storage {url!r}: {type(exc).__name__}: {exc}") from None


def _open_rdb(url, u: str):
    import optuna

    shown = redact_url(url)
    sqlite_file = None
    if u.startswith("sqlite:///"):
        p = Path(u[len("sqlite:///"):])
        if str(p) not in ("", ":memory:"):
            if not p.parent.exists():
                raise StorageError(f"cannot open storage {shown!r}: directory {str(p.parent)!r} does not exist")
            sqlite_file = p
            _sqlite_wal(p)
    hb = heartbeat_seconds()
    engine_kwargs = {"connect_args": {"timeout": 60}} if u.startswith("sqlite:") else {}
    for attempt in range(4):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                storage = optuna.storages.RDBStorage(u, engine_kwargs=engine_kwargs, heartbeat_interval=hb,
                                                     grace_period=GRACE_BEATS * hb)
            break
        except ImportError as exc:
            raise StorageError(_missing_driver(exc, url, u)) from None
        except Exception as exc:  # noqa: BLE001 - SQLAlchemy / driver / OS errors of every kind
            if _is_connection_error(exc) or attempt == 3:
                raise StorageError(
                    f"cannot open storage {shown!r}: {type(exc).__name__}: {_first_line(exc, url)} (check the "
                    "host, port, user, password and that the database exists, e.g. `createdb NAME`)"
                ) from None
            # workers starting together on an empty database race to create Optuna's tables: retry
            time.sleep(random.uniform(0.2, 1.0))
    if sqlite_file is not None:
        _sqlite_sync_normal(storage)
    return storage


def _missing_driver(exc: BaseException, url, u: str) -> str:
    """The message for a database URL whose driver is not installed (names the module and the extra)."""
    name = None
    e: BaseException | None = exc
    while e is not None and name is None:
        name = getattr(e, "name", None)
        e = e.__cause__ or e.__context__
    scheme = u.split("://", 1)[0]
    name = name or (scheme.split("+", 1)[1] if "+" in scheme else scheme)
    how = ("pip install 'latxfer[postgres]'" if scheme.startswith("postgres")
           else f"install the SQLAlchemy driver for {scheme.split('+')[0]!r}")
    return (f"cannot open storage {redact_url(url)!r}: its database driver {name!r} is not installed; "
            f"{how}")


def _is_connection_error(exc: BaseException) -> bool:
    try:
        from sqlalchemy.exc import InterfaceError, OperationalError
    except ImportError:  # pragma: no cover - optuna depends on SQLAlchemy
        return False
    return isinstance(exc, (OperationalError, InterfaceError))


def _is_storage_error(exc: BaseException) -> bool:
    """An error of the storage (database, driver, file system), not of latxfer's own code."""
    try:
        from optuna.exceptions import StorageInternalError
        from sqlalchemy.exc import SQLAlchemyError
    except ImportError:  # pragma: no cover - optuna depends on SQLAlchemy
        return isinstance(exc, OSError)
    return (isinstance(exc, (SQLAlchemyError, StorageInternalError, OSError))
            or type(exc).__module__.startswith(("psycopg", "sqlite3")))


def _storage_cause(exc: BaseException) -> BaseException | None:
    """The innermost storage error in ``exc``'s chain, or None when the storage is not to blame.

    Optuna wraps the driver's error (StorageInternalError), and an error while telling a trial may
    surface as another exception raised while handling it.
    """
    found, seen, e = None, set(), exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if _is_storage_error(e):
            found = e
        e = e.__cause__ or e.__context__
    return found


def fail_stale_trials(study, storage) -> list[int]:
    """Fail the RUNNING trials left by killed workers; return their trial numbers.

    Database storages: Optuna's :func:`optuna.storages.fail_stale_trials` (a trial whose heartbeat is older
    than the grace period, judged by the database server's clock), and a RUNNING trial without any
    heartbeat (a worker killed while Optuna was still creating the trial, before its heartbeat started)
    whose start is older than the grace period.  Journal files: a RUNNING trial started more than the
    grace period ago.  In-memory studies have no other worker: nothing to do.  Trial starts are the
    workers' clocks: keep the machines of one study in time (NTP).

    Parameters
    ----------
    study : optuna.Study
        The study to clean.
    storage : optuna storage or None
        What :func:`open_storage` returned for it.

    Returns
    -------
    list of int
        Numbers of the trials that were RUNNING and are now FAIL.
    """
    import optuna
    from optuna.trial import TrialState

    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    if not running or storage is None:
        return []
    grace = timedelta(seconds=GRACE_BEATS * heartbeat_seconds())
    now = datetime.now()
    old = [t for t in running if t.datetime_start is not None and now - t.datetime_start > grace]
    if isinstance(storage, optuna.storages.RDBStorage):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        old = _without_heartbeat(storage, old)
    elif not isinstance(storage, optuna.storages.JournalStorage):
        old = []
    for t in old:
        try:
            study.tell(t.number, state=TrialState.FAIL)
        except Exception:  # noqa: BLE001 - finished meanwhile, or failed by another worker
            pass
    numbers = {t.number for t in running}
    return sorted(t.number for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
                  if t.number in numbers)


def _without_heartbeat(storage, trials) -> list:
    """The trials among ``trials`` that have no heartbeat record in Optuna's ``trial_heartbeats`` table."""
    if not trials:
        return []
    from sqlalchemy import bindparam, text

    q = text("SELECT trial_id FROM trial_heartbeats WHERE trial_id IN :ids").bindparams(
        bindparam("ids", expanding=True))
    with storage.engine.connect() as con:
        beating = {int(r[0]) for r in con.execute(q, {"ids": [t._trial_id for t in trials]})}
    return [t for t in trials if t._trial_id not in beating]


# ---------------------------------------------------------------------------------------- the study
def _create_or_load(storage, study_name: str | None, problem, sampler, url=None):
    """Create the study, or load it and check that it was made for the same problem, model and target."""
    import optuna

    directions = list(DIRECTIONS)
    if storage is not None and study_name is None:
        study_name = _default_study_name(problem)
    try:
        study = optuna.create_study(storage=storage, sampler=sampler, study_name=study_name,
                                    directions=directions, load_if_exists=True)
    except Exception as exc:  # noqa: BLE001 - storage failures while creating
        raise StorageError(f"cannot create or load study {study_name!r} in {redact_url(url)!r}: "
                           f"{type(exc).__name__}: {_first_line(exc, url)}") from None
    got = [d.name.lower() for d in study.directions]
    want = problem.config()
    stored = study.user_attrs.get(_ATTR)
    if got != directions:
        raise StudyMismatchError(
            f"study {study.study_name!r} already exists with {len(got)} objective(s) {got}; this search has "
            f"{directions} ({list(METRIC_NAMES)}): choose another --study name"
        )
    if stored is None:
        if study.trials:
            raise StudyMismatchError(
                f"study {study.study_name!r} already exists and was not made by latxfer nas (no stored "
                "configuration): choose another --study name"
            )
        study.set_user_attr(_ATTR, want)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(list(METRIC_NAMES))
    else:
        diff = {k: (stored.get(k), v) for k, v in want.items() if k != "device" and stored.get(k) != v}
        if diff:
            txt = "; ".join(f"{k}: stored {a!r}, now {b!r}" for k, (a, b) in diff.items())
            raise StudyMismatchError(
                f"study {study.study_name!r} already exists with different objectives or settings ({txt}); "
                "use the same settings to resume it, or another --study name"
            )
    _check_fingerprints(study, problem, url)
    return study


_WHAT = {"model": ("another model", "--model"), "target": ("other target data", "--target-csv")}


def _check_fingerprints(study, problem, url) -> None:
    """Store the model's and the target data's fingerprints on a new study; refuse a resume that differs."""
    now = {"model": problem.model_fingerprint, "target": problem.target_fingerprint}
    stored = dict(study.user_attrs.get(_FP_ATTR) or {})
    for key, (what, flag) in _WHAT.items():
        a, b = stored.get(key), now[key]
        if a is not None and b is not None and a != b:
            raise StudyMismatchError(
                f"study {study.study_name!r} in {redact_url(url)!r} was made with {what} (fingerprint {a}; "
                f"this search: {b}): resuming it would mix two posteriors in one study.  Resume it with the "
                f"{flag} it was made with, or start a new study with --study NEW (another name)"
            )
    missing = {k: v for k, v in now.items() if v is not None and stored.get(k) is None}
    if missing:
        study.set_user_attr(_FP_ATTR, {**stored, **missing})



_JOURNAL_EXT = (".log", ".journal", ".jsonl")


def storage_kind(url: str | None) -> str:
    """``"memory"``, ``"journal"`` or ``"rdb"`` for a storage URL (see :func:`open_storage`)."""
    if url is None or str(url).strip().lower() in ("", "memory", ":memory:", "inmemory"):
        return "memory"
    u = str(url).strip()
    if u.startswith("journal:"):
        return "journal"
    if "://" in u:
        return "rdb"
    if u.lower().endswith(_JOURNAL_EXT):
        return "journal"
    if u.lower().endswith((".db", ".sqlite", ".sqlite3")):
        return "rdb"
    raise ConfigError(
        f"cannot interpret storage {url!r}; expected 'sqlite:///FILE.db', another SQLAlchemy URL "
        "(e.g. 'postgresql://user@host/db'), 'journal:///PATH.log' or a path ending in .log / .journal"
    )


def _sqlite_wal(path: Path) -> None:
    """Put a SQLite file in WAL mode (persistent): readers never block the writer, 4x faster trials."""
    import sqlite3

    con = sqlite3.connect(str(path), timeout=60)
    try:
        con.execute("PRAGMA journal_mode=WAL")
    finally:
        con.close()


def _sqlite_sync_normal(storage) -> None:
    """``synchronous=NORMAL`` on every connection: safe against a killed process in WAL mode (only an OS
    crash or power loss may drop the last transactions), and avoids an fsync per trial."""
    from sqlalchemy import event

    def on_connect(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    event.listen(storage.engine, "connect", on_connect)
    storage.engine.dispose()


def _default_study_name(problem: NASProblem) -> str:
    b = "" if problem.budget_ms is None else f"-b{problem.budget_ms:g}-d{problem.delta:g}"
    return f"latxfer-{problem.space}-{problem.device}-{problem.objective}-{problem.accuracy_name}{b}"
