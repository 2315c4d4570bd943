"""``latxfer data fetch``: download, verify (pinned SHA-256) and convert a public dataset into the cache.

::

    latxfer data fetch NAME [NAME ...] [--cache-dir DIR] [--mirror URL] [--timeout S] [--force] [--json]

The download and conversion live in :mod:`latxfer.data.fetch`; this module is only its command line.
"""

from __future__ import annotations

from latxfer.cli import _common as C

NAME = "fetch"
HELP = "download, verify and convert a public dataset into the cache"


def add_arguments(p) -> None:
    """Options of ``latxfer data fetch``."""
    p.add_argument("name", nargs="+", metavar="NAME",
                   help="dataset(s) to fetch (see `latxfer data list`), or 'all' for every fetchable one")
    p.add_argument("--cache-dir", default=None, metavar="DIR",
                   help="cache directory (default $LATXFER_CACHE or the user cache)")
    p.add_argument("--mirror", default=None, metavar="URL",
                   help="directory or file:// URL laid out like the upstream raw files (help/, oneproxy/)")
    p.add_argument("--timeout", type=C.number_in(0.0, None), default=60.0, metavar="S",
                   help="seconds per connection / read, a number > 0 (default 60)")
    p.add_argument("--force", action="store_true", help="download and convert again")
    C.add_progress(p)
    C.add_flag(p, "--json")


def run(args) -> int:
    """Fetch each named dataset; print where the data directory is.  Exit status 0."""
    from latxfer.data.fetch import DATASET_FILES, ENV_DATA, FETCHABLE, fetch

    names = list(FETCHABLE) if "all" in args.name else list(dict.fromkeys(args.name))
    results = []
    for name in names:
        data = fetch(name, cache_dir=args.cache_dir, mirror=args.mirror, progress=C.progress(args),
                     timeout=args.timeout, force=args.force)
        results.append({"dataset": name, "data_dir": str(data),
                        "files": [str(data / rel) for rel in DATASET_FILES[name]]})
    if args.json:
        C.print_json(results if len(results) > 1 else results[0])
        return C.EXIT_OK
    for r in results:
        print(f"{r['dataset']}: verified and converted into {r['data_dir']}")
        for f in r["files"]:
            print(f"  {f}")
    print(f"load_dataset() finds it there; to use the directory explicitly: "
          f"export {ENV_DATA}={results[-1]['data_dir']}")
    return C.EXIT_OK
