"""What any architecture-based predictor can reach on a device: the ceiling of the target tables.

Two questions about the measured tables themselves, not about latxfer's model:

1. **Ceiling.**  With 80% of a device's architectures measured (5-fold cross-validation: fit on four
   folds, rank the fifth), how well do ridge regressions on ever richer features rank the held-out
   architectures?  Features: the op encoding (one-hot per edge or layer), plus all pairwise and (NB201)
   all triple edge-op interactions, and every source device's latency (standardised, and its log) with the
   disconnected-cell flag (NB201).  The ridge penalty is chosen per fold on an inner 80/20 split of the
   training folds.  This is an upper bound for a few-shot method: latxfer sees 10 measurements, these
   fits about 12,500 (NB201) or 4,000 (FBNet).
2. **Drift in measurement order.**  The architecture index is unrelated to the architecture (the op
   encoding explains < 0.2% of it and of smooth functions of it on NB201, about 3% on FBNet: see the
   report), so a residual that
   varies smoothly along the index is not a property of the architectures; most likely it is drift over
   the measurement session, measured in index order (the data do not record the order), and no
   predictor of the architecture can follow it.  Per device: the sd of the op-linear residual's means over
   blocks of 200 consecutive indices relative to what independent noise would give (1 = no drift), and
   the share of the residual's variance a leave-self-out moving mean over 201 indices explains.

Describes the data; nothing is chosen on it.  Run::

    LATXFER_DATA=/work/shared/data LATXFER_OFFLINE=1 .venv/bin/python benchmarks/ceiling.py

Writes ``docs/results/ceiling.md``, ``ceiling.csv`` and ``ceiling_drift.csv`` (about 10 minutes).
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.ndimage import uniform_filter1d
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, md_table, provenance  # noqa: E402

LAMBDAS = (1e-3, 1e-1, 1.0, 10.0, 100.0)


def _onehot(codes: np.ndarray, n_ops: int) -> np.ndarray:
    """One-hot of the joint op code of the columns of ``codes`` (architecture x edges)."""
    joint = np.zeros(len(codes), np.int64)
    for c in codes.T:
        joint = joint * n_ops + c
    M = np.zeros((len(codes), n_ops ** codes.shape[1]))
    M[np.arange(len(codes)), joint] = 1.0
    return M


def _solve(G, g, lam):
    G = G.copy()
    G[np.diag_indices_from(G)] += lam
    return np.linalg.solve(G, g)


def _cv_predict(X: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    """5-fold out-of-fold ridge predictions, penalty chosen on an inner split of each training fold."""
    rng = np.random.default_rng(seed)
    n = len(y)
    folds = rng.permutation(n) % 5
    pred = np.empty(n)
    for f in range(5):
        tr, te = np.flatnonzero(folds != f), np.flatnonzero(folds == f)
        inner = rng.permutation(tr)
        a, b = inner[:len(tr) * 4 // 5], inner[len(tr) * 4 // 5:]
        Ga, ga = X[a].T @ X[a], X[a].T @ y[a]
        Gb, gb = X[b].T @ X[b], X[b].T @ y[b]
        lam = max(LAMBDAS, key=lambda lm: spearmanr(X[b] @ _solve(Ga, ga, lm), y[b])[0])
        pred[te] = X[te] @ _solve(Ga + Gb, ga + gb, lam)
    return pred


def _features(ds, space, sources, interactions: int) -> dict[str, np.ndarray]:
    ops = ds.ops.values.astype(np.int64)
    n_ops = int(ops.max()) + 1
    one = np.ones((len(ops), 1))
    blocks = {1: np.hstack([_onehot(ops[:, [e]], n_ops) for e in range(ops.shape[1])])}
    for k in range(2, interactions + 1):
        blocks[k] = np.hstack([_onehot(ops[:, list(c)], n_ops) for c in itertools.combinations(range(ops.shape[1]), k)])
    names = {1: "op encoding", 2: "+ pairwise interactions", 3: "+ triple interactions"}
    feats = {names[k]: np.hstack([one] + [blocks[j] for j in range(1, k + 1)]) for k in blocks}
    Y = ds.latency.sel(device=sources).values.T
    src = [one, (Y - Y.mean(0)) / Y.std(0), np.log(Y) - np.log(Y).mean(0)]
    if hasattr(space, "is_disconnected"):
        src.append(space.is_disconnected(ds.arch.values).astype(float)[:, None])
    feats["source latencies"] = np.hstack(src)
    return feats


def _residual(X1: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Residual of the least-squares fit of ``y`` on ``X1``."""
    return y - X1 @ np.linalg.lstsq(X1, y, rcond=None)[0]


def _drift(y: np.ndarray, X1: np.ndarray) -> dict:
    r = _residual(X1, y)
    w = 201
    smooth = (uniform_filter1d(r, w, mode="nearest") * w - r) / (w - 1)  # leave-self-out moving mean
    nb = len(r) // 200
    blocks = r[:nb * 200].reshape(nb, 200).mean(1)
    fit = y - r
    return {"residual / sd": r.std() / y.std(),
            "block-mean sd / independent": blocks.std() / (r.std() / np.sqrt(200)),
            "drift share": 1 - np.var(r - smooth) / np.var(r),
            "SRCC op-linear fit": spearmanr(fit, y)[0],
            "SRCC fit + drift": spearmanr(fit + smooth, y)[0]}


def _index_check(ds, X1) -> list[dict]:
    """How much of the architecture index (and of smooth functions of it) the op encoding explains."""
    idx = ds.arch.values.astype(float)
    span = idx.max() + 1
    funcs = {"index": idx, **{f"sin, {c} cycles over the index": np.sin(2 * np.pi * c * idx / span)
                              for c in (1, 5, 26, 78)}}
    out = []
    for name, f in funcs.items():
        r = _residual(X1, f)
        out.append({"function of the index": name, "R2 on the op encoding": 1 - r.var() / f.var()})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(RESULTS / "ceiling.md"))
    args = ap.parse_args(argv)

    import latxfer
    from latxfer.evaluate import score

    rows, drift, index = [], [], []
    for space_name, interactions in (("nb201", 3), ("fbnet", 1)):
        ds = latxfer.load_dataset(f"{space_name}-help")
        split = latxfer.get_split(space_name, "help")
        space = latxfer.load_space(space_name)
        feats = _features(ds, space, split.source, interactions)
        X1 = np.c_[np.ones(ds.sizes["arch"]), space.encode(ds.arch.values)]
        index += [{"space": space_name, **r} for r in _index_check(ds, X1)]
        for role, devices in (("target", split.target), ("validation", split.validation)):
            for dev in devices:
                y = ds.latency.sel(device=dev).values
                row = {"space": space_name, "role": role, "device": dev}
                for name, X in feats.items():
                    sc = score(_cv_predict(X, y, args.seed), y, topk=())  # latxfer's HELP-trimmed SRCC
                    row[name], row[f"{name} (trimmed)"] = sc["srcc"], sc["srcc_trimmed"]
                    print(f"{space_name} {dev:14s} {name:26s} {row[name]:.4f} / {row[name + ' (trimmed)']:.4f}",
                          flush=True)
                rows.append(row)
        for dev in ds.device.values:
            drift.append({"space": space_name, "device": str(dev),
                          "role": ("source" if dev in split.source else "validation" if dev in split.validation
                                   else "target" if dev in split.target else "other"),
                          **_drift(ds.latency.sel(device=dev).values, X1)})
    df, dr = pd.DataFrame(rows), pd.DataFrame(drift)
    RESULTS.mkdir(parents=True, exist_ok=True)
    df.to_csv(RESULTS / "ceiling.csv", index=False)
    dr.to_csv(RESULTS / "ceiling_drift.csv", index=False)
    full = [c for c in df.columns if c not in ("space", "role", "device") and not c.endswith("(trimmed)")]
    df["best"] = df[full].max(axis=1)
    df["best (trimmed)"] = df[[f"{c} (trimmed)" for c in full]].max(axis=1)
    text = [
        "# What any architecture-based predictor can reach: ceilings of the HELP tables\n",
        provenance() + "\n",
        "## Ceiling with 80% of the device measured\n",
        "5-fold cross-validated SRCC (all architectures / HELP-trimmed to the 10th-90th latency percentile) of "
        "ridge regressions fitted to about 12,500 (NB201) or 4,000 (FBNet) of the device's own measurements. "
        "Features accumulate left to right; `source latencies` is the op-free alternative: every HELP source's "
        "latency of the architecture (and its log, and the NB201 disconnected-cell flag).\n",
    ]
    for sp_name in df.space.unique():
        tab = (df[df.space == sp_name].drop(columns="space").set_index(["role", "device"])
               .dropna(axis=1, how="all").round(4))
        text.append(f"### {sp_name}\n\n" + md_table(tab) + "\n")
    text += [
        "## Drift in measurement order\n",
        "The op-linear residual of each device (least squares on the whole table), against the architecture "
        "index: the sd of its means over blocks of 200 consecutive indices relative to independent noise "
        "(1 = no drift), the share of its variance a leave-self-out moving mean over 201 indices explains, and "
        "the SRCC with the table of the op-linear fit alone and with that moving mean added (what a predictor "
        "that knew the session's drift could reach).\n",
    ]
    text += ["Is the index unrelated to the architecture?  R^2 of the index and of smooth functions of it on "
             "the op encoding (with intercept):\n",
             md_table(pd.DataFrame(index).set_index(["space", "function of the index"]).round(4)) + "\n"]
    for sp_name in dr.space.unique():
        tab = dr[dr.space == sp_name].drop(columns="space").set_index(["role", "device"]).sort_index().round(3)
        text.append(f"### {sp_name}\n\n" + md_table(tab) + "\n")
    Path(args.out).write_text("\n".join(text))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
