"""The one reader of a command's target CSV (``--target-csv``): predict, assess, plan and search share it.

Every command gets the same checks, the strictest union of what each applied before:

- the file is a valid tidy latency CSV of the model's search space (:func:`latxfer.read_csv` names the
  file, the lines and the values at fault); a ``space`` column naming another space is refused with
  the model's space in the message;
- it holds exactly one device;
- that device is not a source device of the model (its full table was used to fit it): a
  :class:`~latxfer.errors.LeakageError`, unless the command allows it (``predict --treat-as-known``);
- ``--intercept-ms`` only with layer-wise files, and layer-wise files only where the command takes them;
- the measurements are plausible (:func:`latxfer.data.check_plausible` against the model's sources).

Imported by the commands inside ``run`` (it imports numpy and the data layer).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

__all__ = ["Target", "read_target"]


@dataclass
class Target:
    """A checked target CSV.

    Attributes
    ----------
    path : str
        The file.
    dataset : xarray.Dataset
        Its latency Dataset (repeats reduced to their median), with ``intercept_ms`` when given.
    device : str
        The one device it holds.
    known : bool
        The device is a source device of the model (only when the command allowed it).
    space : str, optional
        The search space the file was checked against.
    """

    path: str
    dataset: xr.Dataset
    device: str
    known: bool = False
    space: str | None = None

    @property
    def has_layers(self) -> bool:
        """True for a layer-wise file (``layer`` and ``op`` columns)."""
        return bool(self.dataset.latx.has_layers)

    def end_to_end(self) -> tuple[np.ndarray, np.ndarray]:
        """``(archs, latency_ms)`` of the end-to-end measurements (repeats reduced to their median), in the
        order the architectures were first measured (the file's row order, which the Dataset does not keep)."""
        import pandas as pd

        from latxfer.data.csvio import read_rows

        order = pd.unique(read_rows(self.path, space=self.space)["arch_index"]).astype(np.int64)
        long = self.dataset.latx.select([self.device]).latx.to_long().set_index("arch_index")
        return order, long.loc[order, "latency_ms"].to_numpy()

    def describe(self) -> str:
        """``"10 measurement(s)"`` or ``"66 layer-wise measurement(s) of 3 architecture(s)"``."""
        long = self.dataset.latx.to_long()
        if self.has_layers:
            return f"{len(long)} layer-wise measurement(s) of {long['arch_index'].nunique()} architecture(s)"
        return f"{len(long)} measurement(s)"


def read_target(model, path, *, model_path=None, flag: str = "--target-csv", allow_source: bool = False,
                source_hint: str = "", no_layers: str | None = None, intercept_ms: float | None = None,
                allow_implausible: bool = False) -> Target:
    """Read and check the target CSV of a command against its fitted model.

    Parameters
    ----------
    model : LatencyModel
        The fitted model (gives the search space and the source devices).
    path : path-like
        The CSV.
    model_path : path-like, optional
        The model's file, named in messages.
    flag : str
        The flag that gave ``path``, named in messages.
    allow_source : bool
        Accept a source device of the model (the result says ``known``); else a LeakageError.
    source_hint : str
        Appended to the leakage message (what the user may do instead).
    no_layers : str, optional
        Refuse layer-wise files (``layer``, ``op`` columns), with this reason (e.g. ``"planning simulates
        end-to-end measurements"``); default: accept them.
    intercept_ms : float, optional
        The device's end-to-end latency minus the sum of its layers (layer-wise files only).
    allow_implausible : bool
        Accept measurements the plausibility checks flag (``--allow-implausible``), with a warning.

    Returns
    -------
    Target

    Raises
    ------
    LatxferError
        A subclass naming the file (and its lines, values or device) and what was expected.
    """
    from latxfer.data.csvio import read_csv
    from latxfer.errors import ConfigError, LeakageError, MixedSearchSpaceError

    space = getattr(model, "space_name", "unknown")
    space = None if space in (None, "unknown") else space
    where = f"the model {model_path}" if model_path else "the model"
    try:
        # the plausibility checks of latxfer.data (values orders of magnitude off, conflicting repeats, no
        # variation, a scale or ranking like none of the model's sources) run here, in the one reader
        ds = read_csv(path, space=space, allow_implausible=allow_implausible,
                      reference=model.reference_dataset() if hasattr(model, "reference_dataset") else None)
    except MixedSearchSpaceError as exc:
        raise MixedSearchSpaceError(f"{exc}: {where} was fitted on {space!r} architectures; give {flag} a CSV "
                                    "of that space, or use a model fitted on the CSV's space") from None
    devs = list(ds.latx.devices)
    if len(devs) != 1:
        raise ConfigError(f"{flag} {path}: holds {len(devs)} devices {devs}; a target CSV holds one new device")
    dev = devs[0]
    has_layers = bool(ds.latx.has_layers)
    if has_layers and no_layers:
        raise ConfigError(f"{flag} {path}: holds layer-wise measurements; {no_layers}, so give end-to-end "
                          "latencies (device,arch_index,latency_ms)")
    if intercept_ms is not None:
        if not has_layers:
            raise ConfigError(f"--intercept-ms applies to layer-wise CSVs (with a 'layer' column); {path} holds "
                              "end-to-end latencies")
        ds = ds.assign(intercept_ms=xr.DataArray([float(intercept_ms)], dims=["device"], coords={"device": [dev]}))
    known = dev in set(getattr(model, "source_devices", ()) or ())
    if known and not allow_source:
        raise LeakageError(
            f"{flag} {path}: device {dev!r} is a source device of {where} (its full table was used to fit "
            "it), so using it as the target would not be a prediction. Rename the device if it is another "
            "one" + (f", or {source_hint}" if source_hint else ""))
    got = ds.attrs.get("space", "unknown")
    return Target(str(path), ds, dev, known, None if got == "unknown" else got)
