"""``latxfer fit``: fit the Bayesian latency model on source devices and save it.

::

    latxfer fit --dataset NAME|FILE --sources SPLIT|LIST|all [--model CONFIG] [--seed S] --out MODEL.zarr

The options are a stable contract (scripts outside the project call them).
"""

from __future__ import annotations

from latxfer.cli import _common as C

NAME = "fit"
HELP = "fit the Bayesian latency model on source devices"


def add_arguments(p) -> None:
    """Options of ``latxfer fit``."""
    C.add_flag(p, "--dataset", "the source devices' latencies")
    C.add_flag(p, "--space", "of a CSV dataset (default: its space column)")
    p.add_argument("--sources", required=True, metavar="SPLIT|LIST|all",
                   help="a split name from splits.json (e.g. 'help'), a comma list of devices, or 'all' (every device of "
                        "the dataset that measured at least half as many architectures as its best-covered one)")
    p.add_argument("--model", default="hier", metavar="CONFIG",
                   help="model configuration: a name (hier, hier-fast, hier-help, pooled, unpooled) or a TOML file "
                        "(default hier)")
    C.add_flag(p, "--seed")
    p.add_argument("--out", required=True, metavar="MODEL.zarr", help="where to save the fitted model (a zarr store)")
    C.add_flag(p, "--overwrite", "a model store is replaced only when latxfer wrote it")
    C.add_flag(p, "--json")


def _print_summary(summary: dict, d: dict) -> None:
    nan = float("nan")
    rhat = d.get("max_rhat")
    ess = d.get("min_ess")
    print(f"saved {summary['model']}: fitted in {summary['fit_seconds']} s, max r_hat "
          f"{nan if rhat is None else rhat:.3f}, min ESS {nan if ess is None else ess:.0f}, divergences "
          f"{d.get('divergences')}, noise sd ~ latency^{summary['noise_power']:.2f}"
          + ("" if d.get("converged", True) else "  (NOT converged: see warning above)"))


def run(args) -> int:
    """Fit the model on the source devices and save it."""
    import sys
    import warnings

    from latxfer.data.datasets import all_sources, load_any, split_devices
    from latxfer.errors import ConfigError, ConvergenceWarning
    from latxfer.models import LatencyModel

    outs = C.Outputs(args, C.input_paths(args.dataset, args.model), store_out=args.out)
    out = outs.get("store_out")
    ds = load_any(args.dataset, space=args.space, data_dir=args.data_dir)
    if ds.attrs.get("space", "unknown") == "unknown":
        raise ConfigError(f"--dataset {args.dataset}: no search space given; the model encodes architectures "
                          "of a space: pass --space (nb201, fbnet, ofa, mbv2, proxyless) or add a 'space' column to the CSV")
    if args.sources.strip() == "all":
        sources, left = all_sources(ds)
        if left:
            C.say(f"WARNING: --sources all leaves out {len(left)} device(s) that measured fewer than half the "
                  "architectures of the best-covered device: "
                  + ", ".join(f"{d} ({c} measured)" for d, c in left.items())
                  + "; name them in a comma list to use them anyway")
    else:
        sources = split_devices(args.sources, ds.attrs["space"], args.data_dir)
    src = ds.latx.select(sources)
    model = LatencyModel(args.model)
    cfg = model.config
    C.say(f"fitting {model.name!r} ({cfg['model']['variant']}, K={cfg['model']['n_factors']}) on "
          f"{len(sources)} source devices of {args.dataset}: {', '.join(sources)}")
    sc = cfg["sampler"]
    if sc["name"] in ("map", "advi"):
        C.say(f"sampler {sc['name']}: an approximation (no r_hat / ESS), {sc['draws']} draws")
    else:
        C.say(f"sampler {sc['name']}: {sc['chains']} chains x ({sc['tune']} tune + {sc['draws']} draws); "
              "about a minute on 2 cores")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(src, seed=args.seed, progress=sys.stderr.isatty())
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            C.say(f"WARNING: {w.message}")
    model.save(out, overwrite=args.overwrite)
    d = model.diagnostics
    summary = {"model": str(out), "config": model.name, "sources": sources, "dataset": args.dataset,
               "fit_seconds": round(model.fit_info["fit_seconds"], 2), "max_rhat": d.get("max_rhat"),
               "min_ess": d.get("min_ess"), "divergences": d.get("divergences"),
               "converged": d.get("converged"), "noise_power": model.fit_info.get("noise_power", 0.0)}
    if args.json:
        C.print_json(summary)
    else:
        _print_summary(summary, d)
    return C.EXIT_OK
