"""``latxfer assess``: the posterior SRCC between a proxy device and a new one -- reuse, adapt or measure more.

::

    latxfer assess --model MODEL --proxy DEVICE --target-csv FILE [--threshold 0.9] [--confidence 0.9]
                   [--json] [--plot FILE.png]

The decision and its wording come from :mod:`latxfer.decision`.
"""

from __future__ import annotations

from latxfer.cli import _common as C

NAME = "assess"
HELP = "posterior SRCC between a proxy and a new device: reuse, adapt or measure more"


def add_arguments(p) -> None:
    """Options of ``latxfer assess``."""
    C.add_flag(p, "--model")
    C.add_flag(p, "--proxy", required=True)
    C.add_flag(p, "--target-csv", required=True)
    C.add_flag(p, "--allow-implausible")
    C.add_flag(p, "--threshold")
    C.add_flag(p, "--confidence")
    C.add_flag(p, "--intercept-ms")
    C.add_flag(p, "--interval", "of the posterior SRCC intervals")
    C.add_flag(p, "--seed")
    C.add_flag(p, "--json")
    C.add_flag(p, "--plot", "posterior density of SRCC(proxy, target) with the threshold")
    C.add_flag(p, "--overwrite")


def _print_text(args, res, r, q, dev) -> None:
    lo, hi = r.interval
    print(f"proxy {args.proxy} -> target {dev} ({res['n_measured']} target measurements)")
    print(f"  posterior SRCC {r.mean:.3f}  [{lo:.3f}, {hi:.3f}] ({args.interval:.0%} interval, with a model "
          f"discrepancy of sd {r.info['discrepancy']:.2f} on the Fisher-z scale, calibrated on held-out devices)")
    print(f"  P(SRCC >= {args.threshold}) = {r.p_above:.3f}")
    print(f"  adapted ranking: expected SRCC {q.mean:.3f} [{q.interval[0]:.3f}, {q.interval[1]:.3f}]")
    print(f"  decision: {res['decision'].upper()}: {res['reason']}")


def run(args) -> int:
    """Posterior SRCC between the proxy and the target, and the reuse / adapt / measure-more decision."""
    import sys

    from latxfer.cli._target import read_target
    from latxfer.decision import decision_reason
    from latxfer.models import load_model

    outs = C.Outputs(args, C.input_paths(args.model, args.target_csv), plot=args.plot)
    model = load_model(args.model)
    proxy = model.source_latency_ms(args.proxy)
    t = read_target(model, args.target_csv, model_path=args.model, allow_implausible=args.allow_implausible, intercept_ms=args.intercept_ms)
    ad = model.adapt_dataset(t.dataset, t.device, rng=args.seed, allow_implausible=args.allow_implausible)
    r = model.posterior_srcc(proxy, ad.posterior, threshold=args.threshold, prob=args.interval)
    q = model.expected_rank_quality(ad.posterior, prob=args.interval)
    res = r.to_dict(args.confidence)
    res.update({"proxy": args.proxy, "target": t.device, "n_measured": ad.posterior.n_measured,
                "adapted_ranking_srcc_mean": q.mean, "adapted_ranking_srcc_interval": list(q.interval)})
    res["reason"] = decision_reason(res["decision"], r.p_above, args.threshold, args.confidence)
    if args.json:
        C.print_json(res)
    else:
        _print_text(args, res, r, q, t.device)
    plot = outs.get("plot")
    if plot is not None:
        from latxfer.plots import plot_posterior_srcc

        plot_posterior_srcc(r, plot, others={"SRCC(adapted ranking, target)": q}, overwrite=args.overwrite,
                            title=f"{args.proxy} -> {t.device}: {res['decision']} "
                                  f"({res['n_measured']} target measurements)")
        print(f"wrote {plot}", file=sys.stderr if args.json else sys.stdout)
    return C.EXIT_OK
