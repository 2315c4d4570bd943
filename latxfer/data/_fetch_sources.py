"""The pinned upstream files (commit, SHA-256, size) and the datasets latxfer can rebuild from them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

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
