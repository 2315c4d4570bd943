"""``latxfer monotonicity``: rank correlation between devices, with intervals and a heatmap.

::

    latxfer monotonicity --dataset NAME|FILE [--devices A,B,...] [--pseudo flops,params|none]
                         [--interval 0.9] [--n-boot 1000] [--seed S] [--plot FILE.png] [--kendall] [--json]
"""

from __future__ import annotations

from latxfer.cli import _common as C

NAME = "monotonicity"
HELP = "rank correlation between devices, with intervals and a heatmap"


def add_arguments(p) -> None:
    """Options of ``latxfer monotonicity``."""
    C.add_flag(p, "--dataset")
    p.add_argument("--devices", default=None, metavar="A,B,...", help="comma-separated devices (default: all)")
    p.add_argument("--pseudo", default="flops", metavar="LIST",
                   help="pseudo-devices: comma list of flops,params, or 'none' (default flops)")
    C.add_flag(p, "--space", "of a CSV file (default: its space column)")
    C.add_flag(p, "--interval", "of the SRCC and Kendall intervals")
    C.add_flag(p, "--n-boot")
    C.add_flag(p, "--seed")
    C.add_flag(p, "--plot", "an annotated SRCC heatmap")
    C.add_flag(p, "--overwrite")
    p.add_argument("--kendall", action="store_true", help="also print the Kendall matrix")
    C.add_flag(p, "--json")


def _pairs(res, names) -> list[dict]:
    pairs = []
    for i, a in enumerate(names):
        for j in range(i + 1, len(names)):
            pairs.append({
                "device": a, "other_device": names[j], "n_common": int(res.n_common.values[i, j]),
                **{k: float(res[k].values[i, j]) for k in
                   ("srcc", "srcc_lower", "srcc_upper", "kendall", "kendall_lower", "kendall_upper")},
            })
    return pairs


def _print_text(args, res, names) -> None:
    w = max(8, max(len(n) for n in names))
    print(f"SRCC with {args.interval:.0%} intervals ({res.attrs['srcc_interval_method']}); "
          f"dataset {res.attrs['dataset']}")
    for metric in ["srcc"] + (["kendall"] if args.kendall else []):
        if metric == "kendall":
            print(f"\nKendall tau-b ({res.attrs['kendall_interval_method']})")
        print(" " * w + "".join(f"{n[:18]:>20}" for n in names))
        for i, a in enumerate(names):
            cells = []
            for j in range(len(names)):
                if i == j:
                    cells.append(f"{'1':>20}")
                else:
                    v, lo, hi = (float(res[k].values[i, j]) for k in (metric, f"{metric}_lower", f"{metric}_upper"))
                    cells.append(f"{f'{v:.3f} [{lo:.2f},{hi:.2f}]':>20}")
            print(f"{a:<{w}}" + "".join(cells))
    if args.plot:
        print(f"\nheatmap written to {args.plot}")


def run(args) -> int:
    """Compute the matrix, print it (or JSON), optionally plot it; exit 0."""
    from latxfer.data.datasets import load_any
    from latxfer.errors import ConfigError
    from latxfer.monotonicity import monotonicity_matrix

    outs = C.Outputs(args, C.input_paths(args.dataset), plot=args.plot)
    ds = load_any(args.dataset, space=args.space, data_dir=args.data_dir)
    devices = C.split_list(args.devices)
    if devices == []:
        raise ConfigError(f"--devices {args.devices!r}: no device names; give a comma list or omit it for all")
    pseudo = [] if (args.pseudo or "none").lower() in ("", "none") else C.split_list(args.pseudo)
    if pseudo and ds.latx.space == "unknown":
        raise ConfigError("pseudo-devices need the search space: pass --space or --pseudo none")
    space = None
    if pseudo:
        from latxfer.data.datasets import load_space

        space = load_space(ds.latx.space, args.data_dir)
    res = monotonicity_matrix(ds, devices, pseudo=pseudo, space=space, interval=args.interval,
                              n_boot=args.n_boot, seed=args.seed)
    names = [str(d) for d in res["device"].values]
    if outs.get("plot") is not None:
        from latxfer.plots import plot_monotonicity_heatmap

        plot_monotonicity_heatmap(res, outs.get("plot"), overwrite=args.overwrite)
    if args.json:
        C.print_json({"dataset": res.attrs["dataset"], "devices": names, "interval": args.interval,
                      "n_boot": args.n_boot, "seed": args.seed,
                      "srcc_interval_method": res.attrs["srcc_interval_method"],
                      "kendall_interval_method": res.attrs["kendall_interval_method"],
                      "srcc": res.srcc.values.tolist(), "pairs": _pairs(res, names), "plot": args.plot})
    else:
        _print_text(args, res, names)
    return C.EXIT_OK
