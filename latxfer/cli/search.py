"""``latxfer search``: multi-objective NAS (accuracy vs posterior target latency) with Optuna.

::

    latxfer search --model MODEL --target-csv FILE [--space SPACE] --accuracy cifar10 \\
        [--objective mean|q0.9] [--budget-ms B --delta 0.05] [--trials 500] [--sampler nsga2] \\
        [--storage URL] [--study NAME] [--seed S] --out PARETO.csv [--plot FILE.png] [--warm-start sources|none]

The command adapts the fitted model to the target measurements (``load_model(MODEL).adapt_dataset(...)``,
seeded by ``--seed``), searches on the resulting posterior and writes the Pareto set (arch_index,
accuracy, latency objective, posterior mean and interval in ms).  With ``--storage`` several processes
running the same command share one study; an interrupted run resumes where it stopped (``--trials``
counts COMPLETE trials of the study).
"""

from __future__ import annotations

from latxfer.cli import _common as C

NAME = "search"
HELP = "multi-objective NAS (accuracy vs target latency) with Optuna"


def add_arguments(p) -> None:
    """Options of ``latxfer search``."""
    C.add_flag(p, "--model")
    C.add_flag(p, "--target-csv", required=True)
    C.add_flag(p, "--allow-implausible")
    C.add_flag(p, "--space", "must be the model's (default: the model's space)")
    p.add_argument("--accuracy", default="cifar10", metavar="NAME|FILE",
                   help="NB201: cifar10 (= cifar10_test_acc), cifar10-val, cifar100, imagenet16-120; any "
                        "space: a CSV file arch_index,accuracy covering every architecture (percent)")
    p.add_argument("--objective", default="mean", metavar="OBJ",
                   help="latency objective: mean (default), median or q<p>, e.g. q0.9 for the posterior 90%% "
                        "quantile (risk-averse)")
    p.add_argument("--budget-ms", type=C.number_in(0.0, None), default=None, metavar="B",
                   help="latency budget in ms, a number > 0: constraint P(latency <= B) >= 1 - delta")
    p.add_argument("--delta", type=C.number_in(0.0, 1.0, lo_open=False), default=0.05, metavar="D",
                   help="risk of exceeding the budget, in [0, 1) (default 0.05)")
    C.add_flag(p, "--trials")
    p.add_argument("--sampler", default="nsga2", metavar="NAME",
                   help="nsga2 (default), tpe, gp (needs torch) or random")
    p.add_argument("--population-size", type=C.int_at_least(2), default=None, metavar="N",
                   help="NSGA-II population, an integer >= 2 (default: latxfer.nas's, 8)")
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
    C.add_flag(p, "--seed", "seeds the sampler and the adaptation (give each worker of a shared study its own)")
    C.add_flag(p, "--interval", "of the posterior intervals in the output")
    p.add_argument("--out", required=True, metavar="PARETO.csv", help="where to write the Pareto set")
    C.add_flag(p, "--overwrite")
    C.add_flag(p, "--plot", "the Pareto set on its predicted latency, with intervals")
    C.add_progress(p)
    C.add_flag(p, "--json")


def _storage_file(url: str | None) -> str | None:
    """The local file of a journal / SQLite storage URL (an input the outputs must not replace), as
    :func:`latxfer.nas.open_storage` reads it."""
    u = (url or "").strip()
    for prefix in ("journal://", "journal:", "sqlite:///"):
        if u.startswith(prefix):
            return u[len(prefix):] or None
    return u if u.lower().endswith((".log", ".journal", ".db", ".sqlite", ".sqlite3")) else None


def _check_args(args) -> None:
    from latxfer.errors import ConfigError
    from latxfer.nas import make_sampler, parse_objective, storage_kind

    kind, _ = parse_objective(args.objective)
    if kind == "measured":
        raise ConfigError("--objective measured is for library use; choose mean, median or q<p>")
    make_sampler(args.sampler, args.seed, population_size=args.population_size)
    storage_kind(args.storage)


def adapt_posterior(model_path: str, args):
    """``(posterior, model, space)``: the fitted model at ``model_path`` adapted to ``--target-csv``.

    The target CSV goes through the shared reader (:func:`latxfer.cli._target.read_target`): one device,
    of the model's space, not one of its source devices.
    """
    from latxfer.cli._target import read_target
    from latxfer.errors import ConfigError

    try:
        from latxfer.models import load_model
    except ImportError:
        raise ConfigError(
            "`latxfer search` needs the Bayesian latency model (latxfer.models.load_model), which this "
            "installation does not provide yet; use the Python API latxfer.nas.adapt_workflow(posterior, ...) "
            "with a DevicePosterior meanwhile"
        ) from None
    from latxfer.models import DevicePosterior

    fitted = load_model(model_path)
    space = getattr(fitted, "space_name", "unknown")
    if args.space is not None and space not in ("unknown", args.space):
        raise ConfigError(f"--space {args.space}: the model {model_path} was fitted on {space!r} architectures; "
                          f"drop --space or pass --space {space}")
    space = args.space or (space if space != "unknown" else "nb201")
    t = read_target(fitted, args.target_csv, model_path=model_path, allow_implausible=args.allow_implausible)
    out = fitted.adapt_dataset(t.dataset, t.device, rng=args.seed, allow_implausible=args.allow_implausible)
    post = getattr(out, "posterior", out)
    if not isinstance(post, DevicePosterior):
        raise ConfigError(f"the model's adaptation returned {type(out).__name__}, not a DevicePosterior")
    return post, fitted, space


def _summary(args, problem, res, table, post) -> dict:
    return {
        "device": problem.device, "space": problem.space, "objective": problem.objective,
        "accuracy": problem.accuracy_name, "encoding": problem.encoding, "sampler": res.sampler,
        "seed": res.seed, "study": res.study_name, "storage": res.storage, "n_trials": res.n_trials,
        "n_new_trials": res.n_new, "n_warm_start": res.n_warm_start, "n_unique_archs": res.n_unique,
        "n_pareto": int(len(table)), "budget_ms": problem.budget_ms,
        "delta": problem.delta if problem.budget_ms is not None else None,
        "n_target_measurements": int(post.n_measured), "out": args.out, "plot": args.plot,
        "elapsed_s": round(res.elapsed_s, 3),
    }


def _print_text(args, problem, res, table) -> None:
    print(f"{problem.device}: {res.n_trials} trials ({res.n_new} new), {res.n_unique} unique architectures "
          f"of {problem.n_archs}; Pareto set of {len(table)} written to {args.out}")
    if res.n_warm_start:
        print(f"  warm start: the first {res.n_warm_start} trials were the source devices' Pareto sets")
    if problem.budget_ms is not None:
        print(f"  budget {problem.budget_ms:g} ms with risk delta {problem.delta:g}: "
              f"{int(problem.feasible().sum())} feasible architectures")
    if res.study_name and res.storage != "memory":
        from latxfer.nas import redact_url

        print(f"  study {res.study_name!r} in {redact_url(args.storage)} ({res.storage})")


def run(args) -> int:
    """Run ``latxfer search``; exit 0 on success (2 on bad input, through the CLI's error handler)."""
    from latxfer import nas
    from latxfer.errors import ConfigError

    inputs = [*C.input_paths(args.model, args.target_csv, args.accuracy), _storage_file(args.storage)]
    outs = C.Outputs(args, inputs, out=args.out, plot=args.plot)
    _check_args(args)
    nas.open_storage(args.storage)  # fail fast (ConfigError) on a storage that cannot be opened
    post, fitted, space = adapt_posterior(args.model, args)
    data_dir = getattr(args, "data_dir", None)
    problem = nas.NASProblem.from_posterior(post, args.accuracy, objective=args.objective, budget_ms=args.budget_ms,
                                            delta=args.delta, space=space, data_dir=data_dir, model=fitted)
    warm = None
    if args.warm_start == "sources":
        if getattr(fitted, "source_latency", None) is None:
            C.say("the model holds no source latency tables; searching without a warm start")
        else:
            warm = nas.source_fronts(fitted, args.accuracy, space=space, data_dir=data_dir)
    res = nas.run_search(problem, args.trials, sampler=args.sampler, seed=args.seed, storage=args.storage,
                         study_name=args.study, progress=C.progress(args), population_size=args.population_size,
                         revisit=args.revisit, warm_start=warm)
    table = res.table(args.interval)
    if len(table) == 0 and problem.budget_ms is not None:
        raise ConfigError(f"no evaluated architecture satisfies P(latency <= {problem.budget_ms:g} ms) >= "
                          f"{1 - problem.delta:g}; raise --budget-ms or --delta")
    outs.write_csv("out", table, float_format="%.6g")
    if outs.get("plot") is not None:
        from latxfer.plots import plot_search

        plot_search(res, outs.get("plot"), interval=args.interval, overwrite=args.overwrite)
    if args.json:
        C.print_json(_summary(args, problem, res, table, post))
    else:
        _print_text(args, problem, res, table)
    return C.EXIT_OK
