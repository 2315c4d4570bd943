"""The ProxylessNAS mobile search space (Cai et al., ICLR 2019), ``proxyless``.

21 searchable MBConv slots on the ImageNet 224 skeleton shared with ``mbv2``
(:mod:`latxfer.spaces.mbv2`): stem conv 3x3 stride 2 to 32 channels, a fixed first MBConv1 3x3 block to
16, stages of widths 24, 40, 80, 96, 192, 320 with (4, 4, 4, 4, 4, 1) slots and first-block strides
(2, 2, 2, 1, 2, 1), head 1x1 conv to 1280, pool, linear 1000.  Each slot is one of
``k{3,5,7}_e{3,6}``; a slot that is not its stage's first (stride 1, ``c_in == c_out``) may also be
``zero``, the identity (ProxylessNAS's ``Zero`` op on a residual block), independently of the others.
"""

from __future__ import annotations

from typing import ClassVar

from latxfer.spaces.mbv2 import MB_OPS, MBConvSpace

__all__ = ["ProxylessSpace"]


class ProxylessSpace(MBConvSpace):
    """ProxylessNAS mobile: 6 slots of 6 ops and 15 of 7 (6 ops or ``zero``), about 2.2e17 networks.

    Parameters
    ----------
    arch_table : array-like of int, shape (n_archs, 21), optional
        Op codes; default the fixed 1,000-architecture sample :func:`~latxfer.spaces.mbv2.default_table`.
    n_classes : int, default 1000
        Classifier outputs.
    """

    name: ClassVar[str] = "proxyless"
    op_names: ClassVar[tuple[str, ...]] = (*MB_OPS, "zero")
    widths: ClassVar[tuple[int, ...]] = (24, 40, 80, 96, 192, 320)
    empty_name: ClassVar[str] = "zero"
    trailing_empty: ClassVar[bool] = False
    first_optional: ClassVar[int] = 1
