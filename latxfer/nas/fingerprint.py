"""Fingerprints of what a search depends on: the fitted model and the target measurements.

Stored on a new study (user attribute ``latxfer_fingerprints``) and compared when a study is resumed, so
one study never mixes two posteriors (see :mod:`latxfer.nas.storage`).
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from latxfer.errors import ConfigError

__all__ = ["model_fingerprint", "data_fingerprint"]


def _digest(parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, np.ndarray):
            a = np.ascontiguousarray(p)
            h.update(f"{a.dtype.str}{a.shape}".encode())
            h.update(a.tobytes())
        else:
            h.update(json.dumps(p, sort_keys=True, default=str).encode())
        h.update(b"\x00")
    return h.hexdigest()[:16]


def model_fingerprint(model) -> str:
    """A short content hash of a fitted latency model: its configuration and its fitted arrays.

    A model that defines ``fingerprint`` (a string or a method returning one) gives that; otherwise the
    hash covers ``config``, ``source_devices``, ``source_latency``, ``source_scales``, the basis
    architectures and every array of ``population``.  The same saved model loaded twice gives the same
    fingerprint; a refit (other sources, seed or configuration) gives another.

    Parameters
    ----------
    model : LatencyModel or any object with those attributes
        A fitted model.

    Returns
    -------
    str
        16 hex digits of a SHA-256 (or the model's own ``fingerprint``).
    """
    fp = getattr(model, "fingerprint", None)
    fp = fp() if callable(fp) else fp
    if isinstance(fp, str) and fp:
        return fp
    parts: list = [type(model).__name__, getattr(model, "config", None)]
    for name in ("source_devices", "source_latency", "source_scales"):
        v = getattr(model, name, None)
        parts.append(None if v is None else np.asarray(v))
    basis = getattr(model, "basis", None)
    parts.append(None if basis is None else np.asarray(getattr(basis, "archs", [])))
    pop = getattr(model, "population", None)
    if isinstance(pop, dict):
        for k in sorted(pop):
            parts += [k, np.asarray(pop[k])]
    return _digest(parts)


def data_fingerprint(archs, latency_ms, device: str | None = None) -> str:
    """A short hash of target measurements: ``(device, arch_index, latency_ms)``, independent of row order.

    Parameters
    ----------
    archs : array_like of int
        Measured architecture indices.
    latency_ms : array_like of float
        Their latencies (ms), one per index.
    device : str, optional
        The target device's name (part of the hash).

    Returns
    -------
    str
        16 hex digits of a SHA-256.
    """
    a = np.asarray(archs, np.int64).ravel()
    v = np.asarray(latency_ms, float).ravel()
    if a.shape != v.shape:
        raise ConfigError(f"data_fingerprint: {a.size} architectures for {v.size} latencies")
    order = np.lexsort((v, a))
    return _digest([device, a[order], v[order]])
