"""Measure the fixed samples of the ``mbv2`` / ``proxyless`` spaces on this machine's runtimes; assemble a Dataset.

    python benchmarks/mbv2_dataset.py --stage measure [--spaces mbv2,proxyless] [--n 1000]
        [--backends jax,onnxruntime] [--batch-sizes 1,8] [--repeats 10] [--warmup 3] [--threads 1]
    python benchmarks/mbv2_dataset.py --stage assemble
    python benchmarks/mbv2_dataset.py --stage adapt [--splits 10]

``measure`` writes each space's fixed 1,000-architecture table (:func:`latxfer.spaces.mbv2.default_table`,
seed ``DEFAULT_SEED``) as ``<space>_archs.csv`` (``arch_id,code``) and the first ``--n`` of them (the
table is in random order, so this is a uniform sample) as the plan ``<space>_plan_<n>.csv``, then runs
``latxfer measure`` once per (space, backend, batch size) -- each combination is a "device", named
``xla_cpu_b<B>`` / ort_cpu_b<B>`` -- into ``raw/<space>_<device>.csv`` with ``--append`` (an interrupted
run resumes where it stopped).  ``assemble`` concatenates the raw files of a space into the tidy
``<space>_latency.csv`` (``device,arch_index,latency_ms,space``: what ``latxfer fit / monotonicity /
assess --dataset FILE`` and ``latxfer.read_csv`` take), computes the monotonicity matrix across the
measured devices and the FLOPs / params pseudo-devices (90% bootstrap intervals), and writes
``docs/results/mbv2_proxyless.md`` with the machine load (``uptime``) at start and end.  Everything lives
in ``docs/results/mbv2_proxyless/`` (``--out-dir``).  ``adapt`` fits ``pooled`` on each XLA device and adapts
it to the ONNX Runtime device of the same batch size from n = 5, 10, 20 of its measurements (SRCC and 90%
coverage on the rest, next to the source as proxy), appended to the report.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "results" / "mbv2_proxyless"
REPORT = ROOT / "docs" / "results" / "mbv2_proxyless.md"
NAMES = {"jax": "xla_cpu", "onnxruntime": "ort_cpu"}


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return f"load average {os.getloadavg()}"


def _log(out: Path, line: str) -> None:
    with (out / "load.txt").open("a") as fh:
        fh.write(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {line}\n")


def write_tables(space, n: int, out: Path) -> Path:
    """``<space>_archs.csv`` (the whole fixed table) and the plan of its first ``n`` architectures."""
    import pandas as pd

    from latxfer.outputs import write_atomic

    archs = out / f"{space.name}_archs.csv"
    frame = space.archs_frame()
    if not archs.exists() or not pd.read_csv(archs).equals(frame):
        write_atomic(archs, lambda p: frame.to_csv(p, index=False), overwrite=True)
    plan = out / f"{space.name}_plan_{n}.csv"
    if not plan.exists():
        write_atomic(plan, lambda p: pd.DataFrame({"space": space.name, "arch_index": range(n)}).to_csv(
            p, index=False))
    return plan


def stage_measure(args, out: Path) -> None:
    from latxfer.spaces import get_space

    (out / "raw").mkdir(parents=True, exist_ok=True)
    _log(out, f"start measure {' '.join(sys.argv[1:])}: {_uptime()}")
    for name in args.spaces:
        plan = write_tables(get_space(name), args.n, out)
        for bs in args.batch_sizes:
            for be in args.backends:
                device = f"{NAMES[be]}_b{bs}"
                raw = out / "raw" / f"{name}_{device}.csv"
                cmd = [sys.executable, "-m", "latxfer.cli", "measure", "--space", name, "--archs", str(plan),
                       "--out", str(raw), "--device-name", device, "--backend", be, "--batch-size", str(bs),
                       "--repeats", str(args.repeats), "--warmup", str(args.warmup), "--threads",
                       str(args.threads), "--no-progress"]
                if raw.exists():
                    cmd.append("--append")
                t0 = time.perf_counter()
                rc = subprocess.run(cmd, check=False).returncode
                _log(out, f"{name} {device}: rc={rc} in {time.perf_counter() - t0:.0f} s; {_uptime()}")
                if rc:
                    sys.exit(rc)


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _cost_lines(raws, metas) -> list[str]:
    """Per device: measured, medians of compile / timing seconds and repeat spread, a 1,000-architecture estimate."""
    lines = ["| device | archs | median compile (+ export) s | median timing s | median relative spread "
             "(p90-p10)/median | load avg 1 min at start | 1,000 architectures at this cost |",
             "|---|---|---|---|---|---|---|"]
    for _p, m in zip(raws, metas, strict=True):
        runs = [r for r in m.get("runs", []) if r.get("measured")]
        if not runs:
            continue
        r = runs[-1]
        per = float(r["median_compile_s"]) + float(r["median_time_s"])
        lines.append(f"| {m['device']} | {sum(x['measured'] for x in runs)} | {r['median_compile_s']:.2f} | "
                     f"{r['median_time_s']:.2f} | {r['median_relative_spread']:.3f} | {r['load_avg_1m']:.1f} | "
                     f"~{1000 * per / 60:.0f} min |")
    return lines


def _fmt(M, devices) -> list[str]:
    lines = ["| SRCC [90% interval] | " + " | ".join(devices) + " |", "|---" * (len(devices) + 1) + "|"]
    for a in devices:
        cells = []
        for b in devices:
            c = M.sel(device=a, other_device=b)
            cells.append("1" if a == b else f"{float(c.srcc):.3f} [{float(c.srcc_lower):.3f}, "
                         f"{float(c.srcc_upper):.3f}]")
        lines.append(f"| {a} | " + " | ".join(cells) + " |")
    return lines


def stage_assemble(args, out: Path) -> None:
    import pandas as pd

    import latxfer
    from latxfer.monotonicity import monotonicity_matrix
    from latxfer.outputs import write_atomic

    report = [f"# MobileNetV2 / ProxylessNAS spaces measured on this machine ({time.strftime('%Y-%m-%d')})", "",
              "Command: `python benchmarks/mbv2_dataset.py " + " ".join(sys.argv[1:]) + "` (the measure stage "
              "ran before it; its settings and the machine load are in `mbv2_proxyless/load.txt`, copied "
              "below).", "", "Machine load while measuring and assembling (2 cores shared with other jobs, "
              "so absolute latencies are noisy and inflated):", "", "```"]
    log = out / "load.txt"
    report += (log.read_text().splitlines() if log.exists() else []) + [f"assemble: {_uptime()}", "```", ""]
    for name in args.spaces:
        raws = sorted((out / "raw").glob(f"{name}_*.csv"))
        if not raws:
            continue
        tidy = pd.concat([pd.read_csv(p) for p in raws], ignore_index=True).assign(space=name)
        path = out / f"{name}_latency.csv"
        write_atomic(path, lambda p, t=tidy: t.to_csv(p, index=False), overwrite=True)
        ds = latxfer.read_csv(path, space=name)
        devices = list(ds.latx.devices)
        M = monotonicity_matrix(ds, pseudo=("flops", "params"), n_boot=1000, seed=0)
        meta = [json.loads(Path(str(p) + ".json").read_text()) for p in raws]
        counts = tidy.groupby("device")["arch_index"].nunique().to_dict()
        report += [f"## `{name}`", "", f"Dataset `{_rel(path)}` ({ds.sizes['arch']} architectures "
                   f"of the fixed table, rows 0..{ds.sizes['arch'] - 1}; per device {counts}); "
                   f"repeats {meta[0].get('repeats')}, warm-up {meta[0].get('warmup')}, threads "
                   f"{meta[0].get('threads')}, processor {meta[0].get('processor')!r}.", "",
                   "Median latency per device (ms): " + ", ".join(
                       f"{d} {float(ds.latency.sel(device=d).median()):.2f}" for d in devices), "",
                   *_fmt(M, list(M.device.values)), "", *_cost_lines(raws, meta), ""]
    report += ["Reproduce the matrix from the tidy file: `latxfer monotonicity --dataset "
               "docs/results/mbv2_proxyless/<space>_latency.csv`.", ""]
    write_atomic(REPORT, lambda p: p.write_text("\n".join(report)), overwrite=True)
    print("\n".join(report))


def _md(table) -> list[str]:
    """A DataFrame as a markdown table (no tabulate dependency)."""
    cols = list(table.columns)
    return ["| " + " | ".join(cols) + " |", "|---" * len(cols) + "|",
            *("| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(index=False))]


def _adapt_rows(model, name: str, ds, source: str, target: str, ns, n_splits: int) -> list[dict]:
    """Adapt ``model`` (fitted on ``source``) to ``target`` from n of its measurements; score on the rest."""
    import numpy as np

    from latxfer.ranks import srcc

    M = ds.latx.select([source, target]).latx.latency_matrix()
    archs = np.asarray(ds["arch"].values, dtype=np.int64)
    ok = np.isfinite(M).all(axis=0)
    archs, x, y = archs[ok], M[0, ok], M[1, ok]
    rows = []
    for n in ns:
        res: dict[str, list[float]] = {"srcc": [], "coverage": [], "proxy": []}
        for s in range(n_splits):
            pick = np.random.default_rng(1000 * n + s).choice(archs.size, n, replace=False)
            rest = np.setdiff1d(np.arange(archs.size), pick)
            pred = model.adapt(archs[pick], y[pick], device=target, rng=s).predict(archs[rest], interval=0.9)
            res["srcc"].append(srcc(pred.mean_ms, y[rest]))
            res["coverage"].append(float(np.mean((y[rest] >= pred.lower_ms) & (y[rest] <= pred.upper_ms))))
            res["proxy"].append(srcc(x[rest], y[rest]))
        row = {"space": name, "source": source, "target": target, "n": n, "splits": n_splits}
        for k, v in res.items():
            v = np.asarray(v, float)
            row[k] = f"{np.nanmean(v):.3f} ± {np.nanstd(v, ddof=1) / np.sqrt(v.size):.3f}"
        rows.append(row)
    return rows


def _one_source_config(out: Path) -> Path:
    """``models/pooled.toml`` with one factor (n_factors may not exceed the one source) and one noise sd.

    ``noise_power = "auto"`` is refused: with 60 measured architectures and 115 features the fit of the
    source extrapolates to non-positive latencies somewhere in the table.
    """
    path = out / "pooled_1factor.toml"
    if not path.exists():
        path.write_text('[model]\nvariant = "pooled"\nn_factors = 1\nnoise_power = 0\n')
    return path


def stage_adapt(args, out: Path) -> None:
    """Few-shot adaptation: fit a one-factor ``pooled`` model on each XLA device, adapt it to ONNX Runtime."""
    import pandas as pd

    import latxfer
    from latxfer.models import load_model

    rows: list[dict] = []
    fits: list[str] = []
    for name in args.spaces:
        path = out / f"{name}_latency.csv"
        if not path.exists():
            continue
        ds = latxfer.read_csv(path, space=name)
        for bs in args.batch_sizes:
            source, target = f"xla_cpu_b{bs}", f"ort_cpu_b{bs}"
            if not {source, target} <= set(ds.latx.devices):
                continue
            model_path = out / f"{name}_{source}_pooled.zarr"
            if not model_path.exists():
                fit = subprocess.run([sys.executable, "-m", "latxfer.cli", "fit", "--dataset", str(path),
                                      "--sources", source, "--model", str(_one_source_config(out)), "--out",
                                      str(model_path)], check=True, capture_output=True, text=True)
                print(fit.stdout + fit.stderr)
                fits += [f"- `{name}`: " + line.strip() for line in (fit.stdout + fit.stderr).splitlines()
                         if line.startswith("saved") or "WARNING" in line]
            rows += _adapt_rows(load_model(model_path), name, ds, source, target, (5, 10, 20), args.splits)
    table = pd.DataFrame(rows).rename(columns={
        "srcc": "adapted SRCC on the rest", "coverage": "90% interval coverage",
        "proxy": "source as proxy (SRCC on the rest)"})
    text = ["", "## Few-shot adaptation", "",
            f"Command: `python benchmarks/mbv2_dataset.py --stage adapt --splits {args.splits}`: `latxfer fit "
            "--model pooled_1factor.toml` (the pooled configuration with one factor, since there is one source) on the XLA device of each space, then `model.adapt` from n measurements of the "
            "ONNX Runtime device (seeded random picks, mean ± s.e. over the splits), scored on the other "
            "measured architectures.  The source is the only other device here, so 'source as proxy' is the "
            "best single proxy.", "", *_md(table), "", "The fits (from `latxfer fit`):", "", *fits, "", f"adapt: {_uptime()}", ""]
    text_all = REPORT.read_text() + "\n".join(text) if REPORT.exists() else "\n".join(text)
    from latxfer.outputs import write_atomic

    write_atomic(REPORT, lambda p: p.write_text(text_all), overwrite=True)
    print("\n".join(text))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stage", choices=["measure", "assemble", "adapt", "all"], default="all")
    p.add_argument("--spaces", type=lambda s: s.split(","), default=["mbv2", "proxyless"])
    p.add_argument("--n", type=int, default=1000, help="architectures per space (the first n of the table)")
    p.add_argument("--backends", type=lambda s: s.split(","), default=["jax", "onnxruntime"])
    p.add_argument("--batch-sizes", type=lambda s: [int(v) for v in s.split(",")], default=[1, 8])
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--splits", type=int, default=10, help="random picks per n in the adapt stage")
    p.add_argument("--out-dir", type=Path, default=OUT)
    args = p.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    if args.stage in ("measure", "all"):
        stage_measure(args, args.out_dir)
    if args.stage in ("assemble", "all"):
        stage_assemble(args, args.out_dir)
    if args.stage in ("adapt", "all"):
        stage_adapt(args, args.out_dir)


if __name__ == "__main__":
    main()
