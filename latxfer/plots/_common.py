"""What every figure shares: a Figure on the Agg canvas (no pyplot, no backend switch) and an atomic save."""

from __future__ import annotations

from pathlib import Path

__all__ = ["figure", "save"]


def figure(figsize=(6.4, 4.4), *, layout: str | None = None):
    """A :class:`matplotlib.figure.Figure` drawn by the Agg canvas.

    Not registered with pyplot: the user's backend and pyplot's global state are left alone (nothing to
    close, no window), and the figure is garbage-collected like any object.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def save(fig, path, *, dpi: int, overwrite: bool = True) -> Path:
    """Write ``fig`` to ``path`` (format from the suffix) through :func:`latxfer.outputs.write_atomic`.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : path-like
        The file; its suffix names a format matplotlib writes (``.png``, ``.pdf``, ``.svg``, ...).
    dpi : int
        Resolution of raster formats.
    overwrite : bool
        Replace an existing file (the figure functions' default); False refuses it.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    OutputPathError
        A suffix matplotlib cannot write, a missing or unwritable directory, or an existing file without
        ``overwrite``.
    """
    from latxfer.errors import OutputPathError
    from latxfer.outputs import write_atomic

    p = Path(path)
    fmt = p.suffix.lower().lstrip(".")
    supported = fig.canvas.get_supported_filetypes()
    if fmt not in supported:
        raise OutputPathError(f"figure {p}: cannot write a {p.suffix or 'suffix-less'!r} file; expected one of "
                              f"{', '.join('.' + s for s in sorted(supported))}")
    return write_atomic(p, lambda tmp: fig.savefig(tmp, format=fmt, dpi=dpi), overwrite=overwrite, flag="figure")
