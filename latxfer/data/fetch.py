"""Fetch the public latency datasets from where their authors published them, verified and converted.

``fetch(name)`` downloads the raw upstream files a dataset needs (HELP's PyTorch-zip pickles, OneProxy's
pickles of HW-NAS-Bench latencies), checks every byte against the SHA-256 pinned in this module, reads
them with an unpickler that admits no global at all (so a tampered or hostile file cannot run code),
converts them to the tidy files of a latxfer data directory and returns that directory::

    <cache>/raw/help/nasbench201/latency/pixel3.pt     verified upstream files (kept for re-conversion)
    <cache>/raw/oneproxy/rice_edgegpu.pickle
    <cache>/data/nb201/latency_help.csv.gz             converted, same layout and bytes as shared/data
    <cache>/data/nb201/archs.csv
    <cache>/data/.latxfer-fetch/<name>.json            completion marker with the outputs' SHA-256

The cache is ``cache_dir`` > ``$LATXFER_CACHE`` > the platform's user cache + ``/latxfer``.  Every
file is written to a temporary file in its destination directory, verified, then renamed with
:func:`os.replace`, so concurrent fetches of the same dataset never leave a torn file.

``mirror`` (or ``$LATXFER_MIRROR``) replaces the upstream roots with a directory or URL laid out like
``help/...`` and ``oneproxy/...`` (the ``raw/`` folder of the shared data directory).
``LATXFER_OFFLINE=1`` disables fetching on first use in :func:`latxfer.load_dataset`.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import io
import json
import os
import pickle
import re
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from latxfer.errors import FetchError, IntegrityError, UnknownDatasetError, UnsafePickleError

__all__ = [
    "SOURCES",
    "RawFile",
    "DATASET_FILES",
    "FETCHABLE",
    "NOT_FETCHABLE",
    "ENV_CACHE",
    "ENV_OFFLINE",
    "ENV_MIRROR",
    "ENV_DATA",
    "safe_load_pickle",
    "load_torch_zip_pickle",
    "download",
    "cache_dir",
    "fetch",
    "cached_data_dir",
    "verify",
    "is_offline",
]

ENV_CACHE = "LATXFER_CACHE"
ENV_OFFLINE = "LATXFER_OFFLINE"
ENV_MIRROR = "LATXFER_MIRROR"
ENV_DATA = "LATXFER_DATA"

# ----------------------------------------------------------------------------------------------------
# Pinned upstream files
# ----------------------------------------------------------------------------------------------------

HELP_COMMIT = "45f70eb92d0d735970a33b608d1544ad3c52f285"
ONEPROXY_COMMIT = "e3c9b2c65113e16f1208988287810b283674f4de"
HELP_ROOT = f"https://raw.githubusercontent.com/HayeonLee/HELP/{HELP_COMMIT}/data/"
ONEPROXY_ROOT = f"https://raw.githubusercontent.com/Ren-Research/OneProxy/{ONEPROXY_COMMIT}/"
# OneProxy files at the repository root; the others are under latency_data/.
_ONEPROXY_AT_ROOT = frozenset(
    {"encode.pickle", "rice_edgegpu.pickle", "rice_edgetpu.pickle", "rice_raspi4.pickle"}
)

# sha256, size in bytes, path relative to the raw layout (SHA256SUMS of shared/data/raw).
_PINNED = """
ba5e1e45bb4134afd07b44ae8e69bf2576051935682368fd9c51cbde059c7fdc   259631  help/fbnet/arch.pt
e8dc124d658407e6e8f2cc0642162bae3ce2b56c8dee44b4bc629f2ac8ca4c28    45423  help/fbnet/latency/1080ti_1.pt
74c5c9801b4e6b7d0cb2fdd3c2d953fc9eea7569da9b9dbb5438c2c2b8687b85    45423  help/fbnet/latency/1080ti_32.pt
ec8e443e814c739df4d7153bf1902b64b987e1e158bc780fa3579d4e481ba462    45423  help/fbnet/latency/1080ti_64.pt
bc8ef435a048c8c44d5ab0b5636c9366bded86fcade1fd79c1bea2e0558e4fd7    45423  help/fbnet/latency/2080ti_1.pt
35ade96b5e88c60f9a176909b7dfe8033830f983a212b89379e557c1c98f93c1    45423  help/fbnet/latency/2080ti_32.pt
038c6438091fecb536c5e1fc70da13cbb2d99b4ef7ba44a7c545d2b141ec7654    45423  help/fbnet/latency/2080ti_64.pt
0855ddb3f4fbb17e0dea2ed252a1aac3c720590ec13c2b3c946d50dcc3a7915d    10415  help/fbnet/latency/essential_ph_1.pt
eaf78708634cdada3fa52971a91fa851c41a3a3edc213c7d5dd3dc81ad205e7f    45423  help/fbnet/latency/eyeriss.pt
f1f0542554cf205f93593814d9e5012df90139043c1b878a24d36d66b0a5adaf    45423  help/fbnet/latency/fpga.pt
77a15ae6276ba8e5343fb3d2b9e7dd995629b0cca92af282d12619002745560c    45423  help/fbnet/latency/gold_6226.pt
b3f7f9e419b67d2f5b2d6392f4968ea9a7a23f3078a4a8c882016ab72921dc3f    45423  help/fbnet/latency/gold_6240.pt
da0b0da71fc6195232a92d0cf2c23a4176756c8fbb600c74b3cc99d6c2e69d88    10415  help/fbnet/latency/pixel2.pt
ccd89872782b2c4f4c7b163e65983cffb7a14782b3a03f2837ccf5083f00ebd8    45423  help/fbnet/latency/pixel3.pt
51a9da87b02efb1a6ebd42e312c324abdaac0e75dbfc84825dff92b0804a44af    45423  help/fbnet/latency/raspi4.pt
378f93b6a278598470d354073d983ffaa0e80f72884b5370da3bb70b6a8e0f1d    10415  help/fbnet/latency/samsung_a50.pt
82660d5aa1839480d57c4b0188de510583f43f9c4b808eb5094a03280e8fe7eb    10415  help/fbnet/latency/samsung_s7.pt
908e18175a31ec455f63292025bba736ad1e52831950c15e472ce1670048ce94    45423  help/fbnet/latency/silver_4114.pt
e1732f783606639d40cb3ac40903e05c8dc06797be024c0643e8d14e7e270de5    45423  help/fbnet/latency/silver_4210r.pt
d13dc078b2a0e4c9d984f29d48f26f5659cddd2d2f83f753a5b1c3f7999af337    45423  help/fbnet/latency/titan_rtx_1.pt
3607673cd6a40a8290678b85d88d27c67429e8366394965c5f0d0fd649cf6f22    45423  help/fbnet/latency/titan_rtx_32.pt
066bd14333eb53ce2076c290bdb8944db4919444a77813158580ff3bfa57901f    45423  help/fbnet/latency/titan_rtx_64.pt
2ab7914e5effece2a2e9c1f5f73826adc0e6c371a63802e91234a65936eb3068    45423  help/fbnet/latency/titanx_1.pt
667e020f5d3977d347d0969c6e67362892ec5e0b483c10791f5de25eb1c196b4    45423  help/fbnet/latency/titanx_32.pt
f2d09f8de4d6efbc6c504c3812eacbc9717bf813d1fcc55cae6ce5de405d2277    45423  help/fbnet/latency/titanx_64.pt
a4da9d78c7f3f39640051bcf3d843f26447254d50cab3beabdbab64e07fe27dd    45423  help/fbnet/latency/titanxp_1.pt
fb059a030b7c0f9c80357122d81e3c336c50ddbbab82eae8e1a0d0435fe92208    45423  help/fbnet/latency/titanxp_32.pt
6571f75d29bdbde84c1973b4e9d8e7a7205eae03d06299d1a5390b3c2939a888    45423  help/fbnet/latency/titanxp_64.pt
4028f52b2c2441da126932e3827ae11a7f76d39818c4374c1b9ab9df236e23f4   141039  help/nasbench201/latency/1080ti_1.pt
435af0ccfab01f5dc55dc9f2e8b90ca37b396b2656e327bba5ee0b6eb9c24464   141039  help/nasbench201/latency/1080ti_256.pt
affce4fcdcf6f28622365995ef2ec018bb07d448add59f80633c0978c393cdea   141039  help/nasbench201/latency/1080ti_32.pt
38cf0e8f698abf8696c69b41a358fe9ddedf5d54cb1ae6f85b04dd8a8f89a1b3   141039  help/nasbench201/latency/2080ti_1.pt
daee655c44c46955d8318ddf0fa39254e70bab1ae723a6abc53d7b7e4e1561ae   141039  help/nasbench201/latency/2080ti_256.pt
ebc603ad325850663fc56c8e0fde52fadea28e585a8405864baa20f986eaf29d   141039  help/nasbench201/latency/2080ti_32.pt
a97165c8669a216b9ca046041c83a07352bd07f2a42e2d8fea8b51e7ddbcabf0    31663  help/nasbench201/latency/essential_ph_1.pt
6f1dd2f8c0442289a09ab78e63e49bde96489f6d455cc33d5fa5aed37edb5d03   141039  help/nasbench201/latency/eyeriss.pt
6a0333c1476a3ab039d8c39e5d42ac99efe9e7f3ff521289569013fa84233b28   141039  help/nasbench201/latency/fpga.pt
6a00f63d14f67f8007ec04519f638a90aa6ed5357cf5c0e60c391df37f186c99   141039  help/nasbench201/latency/gold_6226.pt
ac6dd41f183de69bba21dec3954ac73333b7dec871e0defbcce0572d82536890   141039  help/nasbench201/latency/gold_6240.pt
051845ddefc2bc138f21e2217f6c7827fe280c78375cbfb4b5bd252a888cb950    31663  help/nasbench201/latency/pixel2.pt
cf1387da12e06b1d4541ce85f3ca4869d551084e09daf4acf024b6e21a80d465   141039  help/nasbench201/latency/pixel3.pt
2fae425c50bcaef7aacc5391244cd0af98bfc7fba689a8741e461cb18192f57c   141039  help/nasbench201/latency/raspi4.pt
0872cb4ec8ecc7ea1b3bd8c98dd705f2d0f6e4940f3af833b313e484de39b155    31663  help/nasbench201/latency/samsung_a50.pt
dbae32364b882022adb044b2aa1af77b66f43a180930d9be4d4c13532429f0ea    31663  help/nasbench201/latency/samsung_s7.pt
0cce9dc9ba62ad81c21275298a88cb0e4534db6474a878f089df0abb13293421   141039  help/nasbench201/latency/silver_4114.pt
f976049bda39abde94b8f8cac90140cb78a5069fc145c462d6d6bc2f8450727a   141039  help/nasbench201/latency/silver_4210r.pt
a854dac331e2a37d7dcd6ee1f63d1bc6d73ead3aeb0a86f803f45ea1b294859e   141039  help/nasbench201/latency/titan_rtx_1.pt
cff1fba40b1743d3716cfb74c86ac2463d0682c146f356fa9095ac0d02dfb2a5   141039  help/nasbench201/latency/titan_rtx_256.pt
1258bee5501fe191530b9898a4f55a122ab30beec9c6ea74598c47a0173babed   141039  help/nasbench201/latency/titan_rtx_32.pt
3461cc686263bd0ce4d4cd915bfc2fe067deb139cc68da387741bd6443434cb0   141039  help/nasbench201/latency/titanx_1.pt
04ddb80719515687bd3d722235cd5da821b50bd453a9e580b1e9d321dfb92941   141039  help/nasbench201/latency/titanx_256.pt
9c4ca69131e34451fb1e104caa47efbe12ffec3cc47bf051613674d7af044ff2   141039  help/nasbench201/latency/titanx_32.pt
935aa0041c6592bed90f2f94ff3b4d40e892c066467864b704e6583682a57b20   141039  help/nasbench201/latency/titanxp_1.pt
9f03206bc62b0dcfc882820de07f55dc1fb7f43f57dfc977e4f0f4b019cb5041   141039  help/nasbench201/latency/titanxp_256.pt
4b6db63c7a9fb55177aa2649d70031dd86d2ed1609467ef5803dc1089a73cb1b   141039  help/nasbench201/latency/titanxp_32.pt
e1d7b7cc7cf51d7c3cd6f9e726e7395bea87d7ba674e26202fb8633f963aef0d  1536943  help/nasbench201/str_arch2idx.pt
e185be53421b6addd872e3a4fb4d2ad2a55bf8c06eb50c0213d4b921bde9343f   131970  oneproxy/encode.pickle
aba9f61d01d05d1fb2171a71bb6cb32445c4f92f02103b408d47438f1f9695b5    18009  oneproxy/rice_edgegpu.pickle
f07a27890ed74945defeab32576bec7ac293c79973925960056a898326e3e8f5    18009  oneproxy/rice_edgetpu.pickle
49acea9e8c9b6a7464f0725e59177f7caeb6d11aa562a37e8eba9094f125cb11    18009  oneproxy/rice_eyeriss.pickle
5101ede0998a799769dc376c586eda2a18254a22935c4e066cd732d21038555a    18009  oneproxy/rice_fpga.pickle
6c5c1cda363c94a66d4e633513f6d65b13d3ce5afe4fd389bceed8db8d2d169f    18009  oneproxy/rice_pixel3.pickle
668ee4b9b5a93245d1950802ba7d5ab265d24d50ef65e62c602b38b047e9167e    18009  oneproxy/rice_raspi4.pickle"""


@dataclass(frozen=True)
class RawFile:
    """One pinned upstream file.

    Attributes
    ----------
    path : str
        Path in the raw layout (``help/...`` or ``oneproxy/...``); also its place under ``<cache>/raw``.
    url : str
        Upstream URL at the pinned commit.
    sha256 : str
        Expected SHA-256 (hex) of its bytes.
    size : int
        Expected size in bytes.
    """

    path: str
    url: str
    sha256: str
    size: int


def _upstream_url(rel: str) -> str:
    top, _, rest = rel.partition("/")
    if top == "help":
        return HELP_ROOT + rest
    if top == "oneproxy":
        return ONEPROXY_ROOT + (rest if rest in _ONEPROXY_AT_ROOT else "latency_data/" + rest)
    raise ValueError(f"no upstream for {rel!r}")  # pragma: no cover


def _parse_pinned(text: str) -> dict[str, RawFile]:
    out = {}
    for line in text.strip().splitlines():
        sha, size, rel = line.split()
        out[rel] = RawFile(rel, _upstream_url(rel), sha, int(size))
    return out


SOURCES: dict[str, RawFile] = _parse_pinned(_PINNED)

# ----------------------------------------------------------------------------------------------------
# Datasets
# ----------------------------------------------------------------------------------------------------

_HELP_NB201_DEVICES = tuple(
    sorted(Path(p).stem for p in SOURCES if p.startswith("help/nasbench201/latency/"))
)
_HELP_FBNET_DEVICES = tuple(sorted(Path(p).stem for p in SOURCES if p.startswith("help/fbnet/latency/")))
_HWNB_DEVICES = ("edgegpu", "edgetpu", "eyeriss", "fpga", "pixel3", "raspi4")
_NB201_INDEX = "help/nasbench201/str_arch2idx.pt"
_FBNET_ARCH = "help/fbnet/arch.pt"
_ENCODE = "oneproxy/encode.pickle"

#: Raw files each fetchable dataset needs.
_RAW_NEEDED: dict[str, tuple[str, ...]] = {
    "nb201-help": (_NB201_INDEX,)
    + tuple(f"help/nasbench201/latency/{d}.pt" for d in _HELP_NB201_DEVICES),
    "nb201-hwnasbench": (_NB201_INDEX, _ENCODE)
    + tuple(f"oneproxy/rice_{d}.pickle" for d in _HWNB_DEVICES),
    "fbnet-help": (_FBNET_ARCH,) + tuple(f"help/fbnet/latency/{d}.pt" for d in _HELP_FBNET_DEVICES),
}

#: Converted files (data-directory layout) each fetchable dataset produces.
DATASET_FILES: dict[str, tuple[str, ...]] = {
    "nb201-help": ("nb201/latency_help.csv.gz", "nb201/archs.csv"),
    "nb201-hwnasbench": ("nb201/latency_hwnasbench.csv.gz", "nb201/archs.csv"),
    "fbnet-help": ("fbnet/latency_help.csv.gz", "fbnet/archs.csv", "fbnet/ops.csv"),
}

#: Names :func:`fetch` accepts.
FETCHABLE: tuple[str, ...] = tuple(DATASET_FILES)

#: Registered datasets that are not published upstream in a form latxfer can rebuild, and why.
NOT_FETCHABLE: dict[str, str] = {
    "nb201-accuracy": "it is assembled from NAS-Landscapes and NASLib result files that latxfer does not "
    "pin or download",
    "ofa-help": "HELP's Once-for-All files are not among the files latxfer pins",
    "fbnet-layers": "it is a least-squares decomposition of HELP's FBNet latencies whose published values "
    "cannot be reproduced bit for bit from the raw files",
    "splits": "the device splits and published numbers were compiled from the papers, not downloaded",
}

_MARKER_DIR = ".latxfer-fetch"
_NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
_NB201_RE = re.compile(
    r"^\|(\w+)~0\|\+\|(\w+)~0\|(\w+)~1\|\+\|(\w+)~0\|(\w+)~1\|(\w+)~2\|$"
)
# Line endings as in the shared data directory (csv-module style CRLF for latency tables and ops.csv,
# LF for archs.csv), so that converted files are byte-identical to the shared ones once decompressed.
_LATENCY_HEADER = "device,arch_index,latency_ms\r\n"
_FBNET_OPS_CSV = "".join(
    f"{line}\r\n"
    for line in ["op,name", "0,k3_e1", "1,k3_e1_g2", "2,k3_e3", "3,k3_e6", "4,k5_e1", "5,k5_e1_g2",
                 "6,k5_e3", "7,k5_e6", "8,skip"]
)

# ----------------------------------------------------------------------------------------------------
# Environment
# ----------------------------------------------------------------------------------------------------


def is_offline() -> bool:
    """True when ``$LATXFER_OFFLINE`` is set to 1/true/yes/on: no fetching on first use."""
    return os.environ.get(ENV_OFFLINE, "").strip().lower() in {"1", "true", "yes", "on"}


def _user_cache_root() -> Path:
    home = Path.home()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA")
        return Path(base) if base else home / "AppData" / "Local"
    if sys.platform == "darwin":
        return home / "Library" / "Caches"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg) if xdg and os.path.isabs(xdg) else home / ".cache"


def cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The fetch cache: ``cache_dir`` argument > ``$LATXFER_CACHE`` > user cache + ``/latxfer``.

    The user cache is ``$XDG_CACHE_HOME`` (else ``~/.cache``) on Linux, ``~/Library/Caches`` on macOS and
    ``%LOCALAPPDATA%`` on Windows.  The directory is not created here.
    """
    if cache_dir is not None and str(cache_dir) != "":
        return Path(cache_dir).expanduser()
    env = os.environ.get(ENV_CACHE)
    if env:
        return Path(env).expanduser()
    return _user_cache_root() / "latxfer"


_resolve_cache = cache_dir  # fetch() & co. take a ``cache_dir`` argument that shadows the function


# ----------------------------------------------------------------------------------------------------
# Safe unpickling
# ----------------------------------------------------------------------------------------------------


class _NoGlobalsUnpickler(pickle.Unpickler):
    """An unpickler that refuses every global and persistent id: only builtin containers and scalars."""

    def __init__(self, file, *, source: str = "<bytes>") -> None:
        super().__init__(file)
        self._source = source

    def find_class(self, module: str, name: str):  # noqa: D401
        raise UnsafePickleError(
            f"{self._source}: the pickle asks for the global {module}.{name}; refused: latxfer reads only "
            "pickles of plain lists, dicts, numbers and strings, and loading a global could execute code "
            "(the file is not the published one, or has been tampered with)"
        )

    def persistent_load(self, pid):
        raise UnsafePickleError(
            f"{self._source}: the pickle references an external object (persistent id {pid!r}, e.g. a "
            "PyTorch tensor storage); refused: latxfer reads only pickles of plain lists, dicts, numbers "
            "and strings"
        )


def safe_load_pickle(data: bytes | bytearray | memoryview | str | os.PathLike, *, source: str | None = None):
    """Unpickle ``data`` (bytes, or a path to a file) admitting no global at all.

    Raises
    ------
    UnsafePickleError
        The pickle names a global (class or function: it could execute code) or a persistent id.
    IntegrityError
        The bytes are not a valid pickle.
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw, src = bytes(data), source or "<bytes>"
    else:
        path = Path(data)
        raw, src = path.read_bytes(), source or str(path)
    try:
        return _NoGlobalsUnpickler(io.BytesIO(raw), source=src).load()
    except UnsafePickleError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError,
            AttributeError, MemoryError) as exc:
        raise IntegrityError(f"{src}: not a valid pickle ({type(exc).__name__}: {exc})") from None


def load_torch_zip_pickle(path: str | os.PathLike):
    """Read the pickle inside a PyTorch zip container (``<folder>/data.pkl``) without torch.

    Only plain builtins are admitted (see :func:`safe_load_pickle`); tensor storages are refused.

    Raises
    ------
    UnsafePickleError
        A global or a tensor storage (persistent id) in the pickle.
    IntegrityError
        Not a zip file, or no / several ``data.pkl`` inside.
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if n.rsplit("/", 1)[-1] == "data.pkl" and n.count("/") == 1]
            if len(names) != 1:
                raise IntegrityError(
                    f"{path}: expected one '<folder>/data.pkl' in the PyTorch zip container, found "
                    f"{names or 'none'}"
                )
            raw = zf.read(names[0])
    except zipfile.BadZipFile as exc:
        raise IntegrityError(f"{path}: not a PyTorch zip container ({exc})") from None
    return safe_load_pickle(raw, source=f"{path}:{names[0]}")


def _load_raw(path: Path):
    return load_torch_zip_pickle(path) if path.suffix == ".pt" else safe_load_pickle(path)


# ----------------------------------------------------------------------------------------------------
# Download
# ----------------------------------------------------------------------------------------------------

_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")


def _is_url(s: str) -> bool:
    return bool(_SCHEME_RE.match(s))


def _manual_hint(url: str, dest: Path | None, sha256: str | None) -> str:
    where = f" and save it as {str(dest)!r}" if dest is not None else ""
    sha = f" (its SHA-256 must be {sha256})" if sha256 else ""
    return (
        f"To fetch it manually, download {url}{where}{sha} and run the command again, or use a copy laid "
        f"out like the upstream files with --mirror DIR (or ${ENV_MIRROR}); alternatively set {ENV_DATA} "
        f"to a directory holding the converted files (e.g. `export {ENV_DATA}=/path/to/latxfer/data`, "
        "with nb201/, fbnet/, ...)."
    )


def _replace(src: str | Path, dst: Path) -> None:
    """os.replace, retrying briefly when Windows reports the target busy."""
    for attempt in range(10):
        try:
            os.replace(src, dst)
            return
        except PermissionError:  # pragma: no cover - Windows: target open by a concurrent reader
            if attempt == 9:
                raise
            time.sleep(0.05 * (attempt + 1))


def _open_source(url: str, timeout: float):
    """(binary stream, content length or None) for a URL, file:// URL or plain local path."""
    if _is_url(url):
        resp = urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 - scheme chosen by user/constant
        length = resp.headers.get("Content-Length")
        return resp, (int(length) if length and length.isdigit() else None)
    f = open(url, "rb")  # noqa: SIM115
    return f, os.fstat(f.fileno()).st_size


def _make_bar(progress, total: int | None, desc: str):
    if progress is False or progress is None:
        return None, False
    if hasattr(progress, "update"):
        return progress, False
    from tqdm.auto import tqdm

    # disable=None: shown only when stderr is a terminal
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, leave=False,
                disable=None), True


def download(
    url: str,
    dest: str | os.PathLike,
    sha256: str,
    timeout: float = 60,
    progress: bool | Any = True,
    *,
    size: int | None = None,
) -> Path:
    """Download ``url`` to ``dest``, verified against ``sha256``; atomic.

    Parameters
    ----------
    url : str
        ``http(s)://``, ``file://`` URL or a plain local path.
    dest : path-like
        Final path; the bytes go to a temporary file in the same directory, are checked (size, SHA-256)
        and only then renamed onto ``dest`` with :func:`os.replace`.
    sha256 : str
        Expected SHA-256 (hex).
    timeout : float
        Seconds for connecting and for each read.
    progress : bool or tqdm-like
        True: a tqdm bar on stderr when it is a terminal; an object with ``update(n)`` is advanced by the
        bytes read (one bar for several files); False: silent.
    size : int, optional
        Expected size in bytes (checked as well as the ``Content-Length`` header).

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    FetchError
        Network failure, timeout, missing file or an incomplete download; the message says how to fetch
        the file manually or where to point ``LATXFER_DATA``.
    IntegrityError
        The bytes do not match ``sha256`` (the downloaded file is deleted).
    """
    dest = Path(dest)
    hint = _manual_hint(url, dest, sha256)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    except OSError as exc:
        raise FetchError(
            f"cannot write into the cache directory {str(dest.parent)!r} ({exc}); choose another one with "
            f"--cache-dir / ${ENV_CACHE}"
        ) from None
    h = hashlib.sha256()
    n = 0
    bar, own_bar = None, False
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                src, length = _open_source(url, timeout)
            except urllib.error.HTTPError as exc:
                raise FetchError(f"downloading {url} failed: HTTP {exc.code} {exc.reason}. {hint}") from None
            except urllib.error.URLError as exc:
                reason = exc.reason
                if isinstance(reason, TimeoutError):
                    raise FetchError(f"downloading {url} timed out after {timeout:g} s. {hint}") from None
                raise FetchError(f"cannot download {url}: {reason}. {hint}") from None
            except FileNotFoundError:
                raise FetchError(f"cannot download {url}: no such file. {hint}") from None
            except TimeoutError:
                raise FetchError(f"downloading {url} timed out after {timeout:g} s. {hint}") from None
            except (OSError, http.client.HTTPException, ValueError) as exc:
                raise FetchError(f"cannot download {url}: {exc}. {hint}") from None
            bar, own_bar = _make_bar(progress, length if length is not None else size,
                                     Path(urllib.parse.urlsplit(url).path).name or url)
            with src:
                while True:
                    try:
                        chunk = src.read(1 << 16)
                    except TimeoutError:
                        raise FetchError(
                            f"downloading {url} timed out after {timeout:g} s ({n} bytes received). {hint}"
                        ) from None
                    except http.client.IncompleteRead as exc:
                        got = n + len(exc.partial)
                        raise FetchError(
                            f"incomplete download of {url}: the connection closed after {got} bytes"
                            f"{f' of {length}' if length else ''}. {hint}"
                        ) from None
                    except (OSError, http.client.HTTPException) as exc:
                        raise FetchError(f"downloading {url} failed after {n} bytes: {exc}. {hint}") from None
                    if not chunk:
                        break
                    out.write(chunk)
                    h.update(chunk)
                    n += len(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
        for expected in (length, size):
            if expected is not None and n != expected:
                raise FetchError(
                    f"incomplete download of {url}: got {n} bytes, expected {expected}; the partial file "
                    f"was deleted. {hint}"
                )
        got = h.hexdigest()
        if got != sha256.lower():
            raise IntegrityError(
                f"{dest.name}: SHA-256 mismatch for {url}: expected {sha256}, got {got}; the file was "
                f"deleted and not used (tampered or corrupted copy). {hint}"
            )
        _replace(tmp, dest)
    finally:
        if own_bar:
            bar.close()
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ----------------------------------------------------------------------------------------------------
# Conversion
# ----------------------------------------------------------------------------------------------------


def _floats(obj, n: int, what: str) -> list[float]:
    if not isinstance(obj, list) or len(obj) != n:
        got = f"{type(obj).__name__} of length {len(obj)}" if hasattr(obj, "__len__") else type(obj).__name__
        raise IntegrityError(f"{what}: expected a list of {n} latencies, got a {got}")
    for v in obj:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise IntegrityError(f"{what}: expected numbers, found {type(v).__name__} {v!r}")
    return obj


def _rows(device: str, pairs: Iterable[tuple[int, float]]) -> Iterable[str]:
    for i, v in pairs:
        if v == -1:  # upstream's "not measured"
            continue
        yield f"{device},{i},{float(v)!r}\r\n"


def _nb201_index(raw: Path) -> dict[str, int]:
    idx = _load_raw(raw / _NB201_INDEX)
    if not isinstance(idx, dict) or sorted(idx.values()) != list(range(15625)):
        raise IntegrityError(f"{_NB201_INDEX}: expected a dict of 15,625 arch strings -> 0..15624")
    return idx


def _nb201_archs_csv(idx: dict[str, int]) -> str:
    lines = ["arch_id,arch_str," + ",".join(f"op_e{i}" for i in range(6)) + "\n"]
    for s, i in sorted(idx.items(), key=lambda kv: kv[1]):
        m = _NB201_RE.match(s)
        if m is None or any(op not in _NB201_OPS for op in m.groups()):
            raise IntegrityError(f"{_NB201_INDEX}: not a NAS-Bench-201 arch string: {s!r}")
        codes = ",".join(str(_NB201_OPS.index(op)) for op in m.groups())
        lines.append(f"{i},{s},{codes}\n")
    return "".join(lines)


def _latency_csv(raw: Path, rels: dict[str, str], n: int) -> str:
    """``device -> raw file`` of plain latency lists indexed by arch, devices sorted."""
    parts = [_LATENCY_HEADER]
    for dev in sorted(rels):
        lat = _floats(_load_raw(raw / rels[dev]), n, rels[dev])
        parts.extend(_rows(dev, enumerate(lat)))
    return "".join(parts)


def _convert_nb201_help(raw: Path) -> dict[str, str]:
    rels = {d: f"help/nasbench201/latency/{d}.pt" for d in _HELP_NB201_DEVICES}
    return {
        "nb201/latency_help.csv.gz": _latency_csv(raw, rels, 15625),
        "nb201/archs.csv": _nb201_archs_csv(_nb201_index(raw)),
    }


def _convert_nb201_hwnasbench(raw: Path) -> dict[str, str]:
    idx = _nb201_index(raw)
    enc = _load_raw(raw / _ENCODE)
    if not isinstance(enc, list):
        raise IntegrityError(f"{_ENCODE}: expected a list of encodings")
    arch = []
    for r, row in enumerate(enc):
        if not (isinstance(row, list) and len(row) == 31 and row[30] == 1
                and all(sum(row[5 * e:5 * e + 5]) == 1 for e in range(6))):
            raise IntegrityError(f"{_ENCODE}: row {r} is not 6 one-hot groups of 5 plus a constant 1")
        ops = [_NB201_OPS[row[5 * e:5 * e + 5].index(1)] for e in range(6)]
        arch.append(idx["|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*ops)])
    parts = [_LATENCY_HEADER]
    for dev in _HWNB_DEVICES:
        rel = f"oneproxy/rice_{dev}.pickle"
        lat = _floats(_load_raw(raw / rel), len(arch), rel)
        parts.extend(_rows(f"hwnb_{dev}", zip(arch, lat, strict=True)))
    return {
        "nb201/latency_hwnasbench.csv.gz": "".join(parts),
        "nb201/archs.csv": _nb201_archs_csv(idx),
    }


def _convert_fbnet_help(raw: Path) -> dict[str, str]:
    archs = _load_raw(raw / _FBNET_ARCH)
    if not (isinstance(archs, list) and len(archs) == 5000 and all(
            isinstance(a, list) and len(a) == 22 and all(type(o) is int and 0 <= o <= 8 for o in a)
            for a in archs)):
        raise IntegrityError(f"{_FBNET_ARCH}: expected 5,000 lists of 22 op codes 0..8")
    lines = ["arch_id," + ",".join(f"op_l{i}" for i in range(22)) + "\n"]
    lines += [f"{i}," + ",".join(map(str, a)) + "\n" for i, a in enumerate(archs)]
    rels = {d: f"help/fbnet/latency/{d}.pt" for d in _HELP_FBNET_DEVICES}
    return {
        "fbnet/latency_help.csv.gz": _latency_csv(raw, rels, 5000),
        "fbnet/archs.csv": "".join(lines),
        "fbnet/ops.csv": _FBNET_OPS_CSV,
    }


_CONVERTERS: dict[str, Callable[[Path], dict[str, str]]] = {
    "nb201-help": _convert_nb201_help,
    "nb201-hwnasbench": _convert_nb201_hwnasbench,
    "fbnet-help": _convert_fbnet_help,
}


def _encode(rel: str, text: str) -> bytes:
    data = text.encode("utf-8")
    if rel.endswith(".gz"):
        buf = io.BytesIO()
        # mtime=0 and a fixed name: identical bytes from every (concurrent) conversion
        with gzip.GzipFile(filename=Path(rel).name[:-3], mode="wb", fileobj=buf, mtime=0,
                           compresslevel=6) as gz:
            gz.write(data)
        data = buf.getvalue()
    return data


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        _replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# ----------------------------------------------------------------------------------------------------
# Fetch
# ----------------------------------------------------------------------------------------------------


def _check_name(name: str) -> None:
    if name in FETCHABLE:
        return
    if name in NOT_FETCHABLE:
        raise FetchError(
            f"dataset {name!r} cannot be fetched: {NOT_FETCHABLE[name]}. Point {ENV_DATA} at a copy of the "
            f"latxfer data directory that holds it (e.g. `export {ENV_DATA}=/path/to/shared/data`, or pass "
            f"data_dir= / --data-dir). Fetchable datasets: {', '.join(FETCHABLE)}."
        )
    import difflib

    close = difflib.get_close_matches(name, [*FETCHABLE, *NOT_FETCHABLE], n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise UnknownDatasetError(
        f"unknown dataset {name!r}; fetchable datasets: {', '.join(FETCHABLE)}.{hint}"
    )


def _marker(data: Path, name: str) -> Path:
    return data / _MARKER_DIR / f"{name}.json"


def _complete(data: Path, name: str) -> bool:
    """The converted files of ``name`` are in ``data`` and match the hashes recorded when written."""
    try:
        rec = json.loads(_marker(data, name).read_text())
        files = rec["files"]
        if set(files) != set(DATASET_FILES[name]):
            return False
        return all(_sha256_file(data / rel) == sha for rel, sha in files.items())
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _source_url(rel: str, mirror: str | os.PathLike | None) -> str:
    if mirror is None or str(mirror) == "":
        return SOURCES[rel].url
    m = os.fspath(mirror)
    if _is_url(m):
        return m.rstrip("/") + "/" + urllib.parse.quote(rel)
    return str(Path(m).expanduser() / rel)


def _have_raw(dest: Path, f: RawFile) -> bool:
    """A verified copy of ``f`` is at ``dest``; a mismatching one is deleted."""
    if not dest.is_file():
        return False
    if dest.stat().st_size == f.size and _sha256_file(dest) == f.sha256:
        return True
    dest.unlink(missing_ok=True)
    return False


def fetch(
    name: str,
    cache_dir: str | os.PathLike | None = None,
    mirror: str | os.PathLike | None = None,
    progress: bool = True,
    *,
    timeout: float = 60,
    force: bool = False,
) -> Path:
    """Download, verify and convert a public dataset into the cache; return the data directory.

    Parameters
    ----------
    name : str
        One of :data:`FETCHABLE` (``nb201-help``, ``nb201-hwnasbench``, ``fbnet-help``).
    cache_dir : path-like, optional
        Cache root (default ``$LATXFER_CACHE`` or the user cache, see :func:`cache_dir`).
    mirror : str or path-like, optional
        Directory or URL (``file://``, ``https://``) replacing the upstream roots, laid out like
        ``help/...`` and ``oneproxy/...``; default ``$LATXFER_MIRROR``, else upstream.
    progress : bool
        Show a download progress bar (when stderr is a terminal).
    timeout : float
        Seconds per connection / read.
    force : bool
        Re-download (raw files failing verification are always re-downloaded) and re-convert.

    Returns
    -------
    Path
        ``<cache>/data``, a data directory usable as ``data_dir`` / ``$LATXFER_DATA``.

    Raises
    ------
    UnknownDatasetError
        ``name`` is not a dataset.
    FetchError
        The dataset is not published upstream, or a download failed (the message says how to fetch
        manually or where to point ``LATXFER_DATA``).
    IntegrityError
        A downloaded file does not match its pinned SHA-256 (it is deleted; nothing is converted).
    UnsafePickleError
        An upstream file holds a pickled global (cannot happen with verified files).
    """
    _check_name(name)
    root = _resolve_cache(cache_dir)
    data = root / "data"
    if not force and _complete(data, name):
        return data
    if mirror is None:
        mirror = os.environ.get(ENV_MIRROR) or None
    raw = root / "raw"
    needed = [SOURCES[rel] for rel in _RAW_NEEDED[name]]
    missing = [f for f in needed if force or not _have_raw(raw / f.path, f)]
    bar, own_bar = _make_bar(progress, sum(f.size for f in missing), f"latxfer: fetching {name}") \
        if missing else (None, False)
    try:
        for f in missing:
            url = _source_url(f.path, mirror)
            try:
                download(url, raw / f.path, f.sha256, timeout=timeout,
                         progress=bar if bar is not None else False, size=f.size)
            except FetchError as exc:
                if url == f.url:
                    raise
                # fetching from a mirror: also say where the file is published
                raise type(exc)(f"{exc} (upstream: {f.url})") from None
    finally:
        if own_bar:
            bar.close()
    outputs = {rel: _encode(rel, text) for rel, text in _CONVERTERS[name](raw).items()}
    for rel, blob in outputs.items():
        _write_atomic(data / rel, blob)
    record = {
        "dataset": name,
        "files": {rel: hashlib.sha256(blob).hexdigest() for rel, blob in outputs.items()},
        "raw": {f.path: f.sha256 for f in needed},
        "sources": {f.path: f.url for f in needed},
        "mirror": None if mirror is None else os.fspath(mirror),
    }
    _write_atomic(_marker(data, name), (json.dumps(record, indent=1, sort_keys=True) + "\n").encode())
    return data


def cached_data_dir(name: str, cache_dir: str | os.PathLike | None = None) -> Path | None:
    """The cache's data directory when ``name`` has been fetched and converted there, else None."""
    if name not in FETCHABLE:
        return None
    data = _resolve_cache(cache_dir) / "data"
    return data if _complete(data, name) else None


def verify(name: str, cache_dir: str | os.PathLike | None = None) -> bool:
    """True when the cached raw files of ``name`` match their pinned hashes and its converted files
    match the hashes recorded at conversion."""
    _check_name(name)
    root = _resolve_cache(cache_dir)
    for rel in _RAW_NEEDED[name]:
        p, f = root / "raw" / rel, SOURCES[rel]
        if not p.is_file() or _sha256_file(p) != f.sha256:
            return False
    return _complete(root / "data", name)

