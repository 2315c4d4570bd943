"""``latxfer search``: multi-objective NAS (accuracy vs posterior target latency) with Optuna.

::

    latxfer search --model MODEL --target-csv FILE --space nb201 --accuracy cifar10 \\
        [--objective mean|q0.9] [--budget-ms B --delta 0.05] [--trials 500] [--sampler nsga2] \\
        [--storage URL] [--study NAME] [--seed S] --out PARETO.csv [--plot FILE.png] [--warm-start sources|none]

The command adapts the fitted model to the target measurements (``load_model(MODEL).adapt(...)``),
searches on the resulting posterior and writes the Pareto set (arch_index, accuracy, latency objective,
posterior mean and interval in ms).  With ``--storage`` several processes running the same command share
one study; an interrupted run resumes where it stopped (``--trials`` counts COMPLETE trials of the study).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``latxfer search``."""
    p.add_argument("--model", required=True, help="fitted latency model (saved by `latxfer fit`)")
    p.add_argument("--target-csv", required=True, metavar="FILE",
                   help="tidy CSV of the target's measurements: device,arch_index,latency_ms")
    p.add_argument("--space", default="nb201", choices=["nb201", "fbnet", "ofa"], help="search space")
    p.add_argument("--accuracy", default="cifar10", metavar="NAME|FILE",
                   help="NB201: cifar10 (= cifar10_test_acc), cifar10-val, cifar100, imagenet16-120; any "
                        "space: a CSV file arch_index,accuracy covering every architecture (percent)")
    p.add_argument("--objective", default="mean", help="latency objective: mean (default), median or q<p>, "
                                                       "e.g. q0.9 for the posterior 90%% quantile (risk-averse)")
    p.add_argument("--budget-ms", type=float, default=None, metavar="B",
                   help="latency budget (ms): constraint P(latency <= B) >= 1 - delta")
    p.add_argument("--delta", type=float, default=0.05, help="risk of exceeding the budget (default 0.05)")
    p.add_argument("--trials", type=int, default=500,
                   help="COMPLETE trials the study should hold (a resumed or shared study runs the rest)")
    p.add_argument("--sampler", default="nsga2", help="nsga2 (default), tpe, gp (needs torch) or random")
    p.add_argument("--population-size", type=int, default=None, help="NSGA-II population (default 8)")
    p.add_argument("--warm-start", default="sources", choices=["sources", "none"],
                   help="sources (default): evaluate the union of the model's source devices' Pareto sets "
                        "first (source data only, counted in --trials); none: start from random architectures")
    p.add_argument("--revisit", action="store_true",
                   help="evaluate and count architectures the study has already evaluated (default: skip "
                        "them, so --trials counts distinct architectures)")
    p.add_argument("--storage", default=None, metavar="URL",
                   help="Optuna storage: sqlite:///FILE.db, postgresql://..., journal:///PATH.log or a .log "
                        "path (default: in memory)")
    p.add_argument("--study", default=None, metavar="NAME",
                   help="study name (default latxfer-<space>-<device>-<objective>-<accuracy>)")
    p.add_argument("--seed", type=int, default=0,
                   help="sampler seed (give each worker of a shared study its own seed)")
    p.add_argument("--interval", type=float, default=0.9, help="posterior interval in the output (default 0.9)")
    p.add_argument("--out", required=True, metavar="PARETO.csv", help="where to write the Pareto set")
    p.add_argument("--plot", default=None, metavar="FILE.png", help="also draw the Pareto set")
    prog = p.add_mutually_exclusive_group()
    prog.add_argument("--progress", dest="progress", action="store_true", default=None,
                      help="progress bar (default: when stderr is a terminal)")
    prog.add_argument("--no-progress", dest="progress", action="store_false")
    p.add_argument("--json", action="store_true", help="print a machine-readable summary")


def _check_args(args) -> None:
    from latxfer.errors import ConfigError
    from latxfer.nas import make_sampler, parse_objective, storage_kind

    kind, _ = parse_objective(args.objective)
    if kind == "measured":
        raise ConfigError("--objective measured is for library use; choose mean, median or q<p>")
    make_sampler(args.sampler, args.seed, population_size=args.population_size)
    storage_kind(args.storage)
    if args.trials < 1:
        raise ConfigError(f"--trials must be >= 1, got {args.trials}")
    if args.budget_ms is not None and not args.budget_ms > 0:
        raise ConfigError(f"--budget-ms must be > 0 ms, got {args.budget_ms}")
    if not 0.0 <= args.delta < 1.0:
        raise ConfigError(f"--delta must be in [0, 1), got {args.delta}")
    if not 0.0 < args.interval < 1.0:
        raise ConfigError(f"--interval must be in (0, 1), got {args.interval}")
    for opt, path in (("--out", args.out), ("--plot", args.plot)):
        if path is not None and not Path(path).resolve().parent.exists():
            raise ConfigError(f"{opt}: directory {str(Path(path).parent)!r} does not exist")


def adapt_posterior(model_path: str, target_csv: str, space: str):
    """``(posterior, model)``: ``load_model(model_path)`` adapted to ``read_csv(target_csv, space=space)``.

    Uses the model's ``adapt_dataset(target)`` when it has one, else ``adapt(target)``; an ``AdaptedLatency``
    result is unwrapped to its ``.posterior`` (a DevicePosterior).
    """
    from latxfer.errors import ConfigError

    try:
        from latxfer.models import load_model
    except ImportError:
        raise ConfigError(
            "`latxfer search` needs the Bayesian latency model (latxfer.models.load_model), which this "
            "installation does not provide yet; use the Python API latxfer.nas.adapt_workflow(posterior, ...) "
            "with a DevicePosterior meanwhile"
        ) from None
    import latxfer
    from latxfer.models import DevicePosterior

    target = latxfer.read_csv(target_csv, space=space)
    fitted = load_model(model_path)
    out = fitted.adapt_dataset(target) if hasattr(fitted, "adapt_dataset") else fitted.adapt(target)
    post = getattr(out, "posterior", out)
    if not isinstance(post, DevicePosterior):
        raise ConfigError(f"the model's adaptation returned {type(out).__name__}, not a DevicePosterior")
    return post, fitted


def run(args) -> int:
    """Run ``latxfer search``; exit 0 on success (2 on bad input, through the CLI's error handler)."""
    from latxfer import nas
    from latxfer.errors import ConfigError

    _check_args(args)
    nas.open_storage(args.storage)  # fail fast (ConfigError) on a storage that cannot be opened
    post, fitted = adapt_posterior(args.model, args.target_csv, args.space)
    data_dir = getattr(args, "data_dir", None)
    problem = nas.NASProblem.from_posterior(
        post, args.accuracy, objective=args.objective, budget_ms=args.budget_ms, delta=args.delta,
        space=args.space, data_dir=data_dir,
    )
    warm = None
    if args.warm_start == "sources":
        if getattr(fitted, "source_latency", None) is None:
            print("note: the model holds no source latency tables; searching without a warm start",
                  file=sys.stderr)
        else:
            warm = nas.source_fronts(fitted, args.accuracy, space=args.space, data_dir=data_dir)
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    res = nas.run_search(problem, args.trials, sampler=args.sampler, seed=args.seed, storage=args.storage,
                         study_name=args.study, progress=progress, population_size=args.population_size,
                         revisit=args.revisit, warm_start=warm)
    table = res.table(args.interval)
    table.to_csv(args.out, index=False, float_format="%.6g")
    if args.plot:
        from latxfer.plots_nas import plot_search

        plot_search(res, args.plot, interval=args.interval)
    summary = {
        "device": problem.device, "space": problem.space, "objective": problem.objective,
        "accuracy": problem.accuracy_name, "encoding": problem.encoding, "sampler": res.sampler,
        "seed": res.seed, "study": res.study_name, "storage": res.storage, "n_trials": res.n_trials,
        "n_new_trials": res.n_new, "n_warm_start": res.n_warm_start, "n_unique_archs": res.n_unique, "n_pareto": int(len(table)),
        "budget_ms": problem.budget_ms, "delta": problem.delta if problem.budget_ms is not None else None,
        "n_target_measurements": int(post.n_measured), "out": args.out, "plot": args.plot,
        "elapsed_s": round(res.elapsed_s, 3),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{problem.device}: {res.n_trials} trials ({res.n_new} new), {res.n_unique} unique architectures "
              f"of {problem.n_archs}; Pareto set of {len(table)} written to {args.out}")
        if res.n_warm_start:
            print(f"  warm start: the first {res.n_warm_start} trials were the source devices' Pareto sets")
        if problem.budget_ms is not None:
            print(f"  budget {problem.budget_ms:g} ms with risk delta {problem.delta:g}: "
                  f"{int(problem.feasible().sum())} feasible architectures")
        if res.study_name and res.storage != "memory":
            print(f"  study {res.study_name!r} in {args.storage} ({res.storage})")
    if len(table) == 0:
        if problem.budget_ms is not None:
            raise ConfigError(
                f"no evaluated architecture satisfies P(latency <= {problem.budget_ms:g} ms) >= "
                f"{1 - problem.delta:g}; raise --budget-ms or --delta"
            )
    return 0


run.add_arguments = add_arguments
