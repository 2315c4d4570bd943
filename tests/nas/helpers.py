"""Helpers of the NAS storage tests: a synthetic problem, CLI workers, a server that can "go away"."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np

from latxfer import nas

ROOT = Path(__file__).resolve().parents[2]


def synthetic_problem(seed: int = 0, n_pos: int = 5) -> nas.NASProblem:
    """A full product space 5**n_pos with random objectives (no data directory needed)."""
    n = 5 ** n_pos
    ops = (np.arange(n)[:, None] // 5 ** np.arange(n_pos)) % 5
    rng = np.random.default_rng(seed)
    return nas.NASProblem(np.arange(n), rng.uniform(50, 95, n), rng.uniform(1, 30, n), objective="measured",
                          ops=ops, space="synthetic", device="toy", latency_source="synthetic")


def cli(*args: str, env: dict | None = None) -> subprocess.Popen:
    """``latxfer <args>`` as a separate worker process (this checkout first on the path)."""
    e = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.Popen([sys.executable, "-m", "latxfer.cli", *args], env=e, cwd=str(ROOT),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def study_trials(url: str, name: str, states=None):
    """The trials of a stored study (all states unless ``states``)."""
    import optuna

    return optuna.load_study(study_name=name, storage=nas.open_storage(url)).get_trials(deepcopy=False,
                                                                                      states=states)


class Proxy:
    """Forward ``127.0.0.1:<port>`` to ``(host, port)``; :meth:`close` drops every connection at once."""

    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            s = socket.create_connection(self.target)
            self.conns += [c, s]
            for a, b in ((c, s), (s, c)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for x in (a, b):
                try:
                    x.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.closed = True
        self.sock.close()
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
                c.close()
            except OSError:
                pass
