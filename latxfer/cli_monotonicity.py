"""``latxfer monotonicity``: rank correlation between devices, with intervals and a heatmap."""

from __future__ import annotations

__all__ = ["add_arguments", "run"]


def add_arguments(p) -> None:
    """Options of ``latxfer monotonicity``."""
    p.add_argument("--dataset", required=True, help="dataset name (see `latxfer data list`), a CSV file or a saved .zarr / .nc dataset")
    p.add_argument("--devices", default=None, help="comma-separated devices (default: all)")
    p.add_argument("--pseudo", default="flops", help="pseudo-devices: comma list of flops,params, or 'none'")
    p.add_argument("--space", default=None, help="search space of a CSV file (nb201, fbnet, ofa)")
    p.add_argument("--interval", type=float, default=0.9, help="probability of the intervals (default 0.9)")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples (0: Fisher-z intervals)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", default=None, metavar="FILE.png", help="write an annotated SRCC heatmap")
    p.add_argument("--kendall", action="store_true", help="also print the Kendall matrix")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _load(args):
    from latxfer.data.datasets import load_any

    return load_any(args.dataset, space=args.space, data_dir=args.data_dir)


def run(args) -> int:
    """Compute the matrix, print it (or JSON), optionally plot it; exit 0."""
    import json

    from latxfer.errors import ConfigError
    from latxfer.monotonicity import monotonicity_matrix

    ds = _load(args)
    devices = [d.strip() for d in args.devices.split(",") if d.strip()] if args.devices else None
    pseudo = [] if (args.pseudo or "none").lower() in ("", "none") else [
        p.strip() for p in args.pseudo.split(",") if p.strip()]
    if pseudo and ds.latx.space == "unknown":
        raise ConfigError("pseudo-devices need the search space: pass --space or --pseudo none")
    space = None
    if pseudo:
        from latxfer.data.datasets import load_space

        space = load_space(ds.latx.space, args.data_dir)
    res = monotonicity_matrix(ds, devices, pseudo=pseudo, space=space, interval=args.interval,
                              n_boot=args.n_boot, seed=args.seed)
    names = [str(d) for d in res["device"].values]
    if args.plot:
        from latxfer.plots import plot_monotonicity_heatmap

        plot_monotonicity_heatmap(res, args.plot)
    if args.json:
        pairs = []
        for i, a in enumerate(names):
            for j in range(i + 1, len(names)):
                pairs.append({
                    "device": a, "other_device": names[j], "n_common": int(res.n_common.values[i, j]),
                    **{k: float(res[k].values[i, j]) for k in
                       ("srcc", "srcc_lower", "srcc_upper", "kendall", "kendall_lower", "kendall_upper")},
                })
        print(json.dumps({"dataset": res.attrs["dataset"], "devices": names, "interval": args.interval,
                          "n_boot": args.n_boot, "seed": args.seed,
                          "srcc_interval_method": res.attrs["srcc_interval_method"],
                          "kendall_interval_method": res.attrs["kendall_interval_method"],
                          "srcc": res.srcc.values.tolist(), "pairs": pairs,
                          "plot": args.plot}, indent=2))
        return 0
    w = max(8, max(len(n) for n in names))
    print(f"SRCC with {args.interval:.0%} intervals ({res.attrs['srcc_interval_method']}); "
          f"dataset {res.attrs['dataset']}")
    metrics = ["srcc"] + (["kendall"] if args.kendall else [])
    for metric in metrics:
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
    return 0


run.add_arguments = add_arguments
