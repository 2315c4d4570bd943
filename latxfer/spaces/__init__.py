"""Search spaces: architecture indexing, op encodings and analytic FLOPs / params.

>>> from latxfer.spaces import get_space
>>> space = get_space("nb201")
>>> space.str_to_ops("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|none~1|none~2|")
(3, 0, 1, 4, 0, 0)

This package imports nothing of latxfer but :mod:`latxfer.errors`; the data layer reads the
architecture tables and passes them in (``arch_table=``), or use ``SPACES[name].from_archs_csv``.
"""

from __future__ import annotations

from typing import Any

from latxfer.errors import UnknownSpaceError
from latxfer.spaces.base import CODINGS, SearchSpace
from latxfer.spaces.fbnet import FBNetSpace
from latxfer.spaces.mbv2 import MBV2Space
from latxfer.spaces.nb201 import NB201Space
from latxfer.spaces.ofa import OFASpace
from latxfer.spaces.proxyless import ProxylessSpace

__all__ = [
    "CODINGS",
    "SPACES",
    "FBNetSpace",
    "MBV2Space",
    "NB201Space",
    "OFASpace",
    "ProxylessSpace",
    "SearchSpace",
    "get_space",
]

#: Registered search spaces, name -> class.
SPACES: dict[str, type[SearchSpace]] = {
    NB201Space.name: NB201Space,
    FBNetSpace.name: FBNetSpace,
    OFASpace.name: OFASpace,
    MBV2Space.name: MBV2Space,  # mbv2 / proxyless: issue 31
    ProxylessSpace.name: ProxylessSpace,
}


def get_space(name: str, arch_table: Any = None, **kwargs: Any) -> SearchSpace:
    """Instantiate a registered search space.

    Parameters
    ----------
    name : str
        ``"nb201"``, ``"fbnet"``, ``"ofa"``, ``"mbv2"`` or ``"proxyless"`` (case-insensitive).
    arch_table : array-like or mapping, optional
        The architecture table (see each class); needed for index look-ups.
    **kwargs
        Passed to the class (e.g. ``resolution=`` for FBNet).

    Returns
    -------
    SearchSpace

    Raises
    ------
    UnknownSpaceError
        If ``name`` is not registered; the message lists the known names.
    """
    key = name.strip().lower() if isinstance(name, str) else name
    if key not in SPACES:
        raise UnknownSpaceError(f"unknown search space {name!r}; expected one of {sorted(SPACES)}")
    return SPACES[key](arch_table, **kwargs)
