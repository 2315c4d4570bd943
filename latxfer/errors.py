"""Exceptions and warnings raised by latxfer.

Every kind of bad input has its own class, so callers (and the CLI) can tell them apart, and every
message names the offending file, row(s) or value and says what was expected.  All errors derive from
:class:`LatxferError`, which itself derives from :class:`ValueError` so generic ``except ValueError``
code keeps working.  The CLI turns any ``LatxferError`` into a one-paragraph message and exit status 2.
"""

from __future__ import annotations

__all__ = [
    "LatxferError",
    "LatxferWarning",
    "ConvergenceWarning",
    "DataFileNotFoundError",
    "DataDirError",
    "EmptyDataError",
    "MissingColumnError",
    "InvalidLatencyError",
    "UnknownArchitectureError",
    "MixedSearchSpaceError",
    "UnknownDatasetError",
    "UnknownSpaceError",
    "UnknownDeviceError",
    "InsufficientDataError",
    "UndefinedCorrelationError",
    "LeakageError",
    "OutputPathError",
    "ModelFileError",
    "ModelVersionError",
    "ConfigError",
    "FetchError",
    "IntegrityError",
    "UnsafePickleError",
    "MissingBackendError",
    "ImplausibleLatencyError",
    "ImplausibleLatencyWarning",
]


class LatxferError(ValueError):
    """Base class of every error latxfer raises on bad input."""


class LatxferWarning(UserWarning):
    """Base class of latxfer's warnings (turned into errors in the test-suite)."""


class ConvergenceWarning(LatxferWarning):
    """The sampler did not converge: r_hat, ESS or divergences out of bounds (names the parameters)."""


class DataFileNotFoundError(LatxferError, FileNotFoundError):
    """A file the user named does not exist."""


class DataDirError(LatxferError):
    """No data directory is configured, or the configured one does not exist / lacks a file."""


class EmptyDataError(LatxferError):
    """A file or table holds no measurement."""


class MissingColumnError(LatxferError):
    """A required column is absent (possibly misspelled)."""


class InvalidLatencyError(LatxferError):
    """A latency is non-numeric, non-finite or not strictly positive."""


class UnknownArchitectureError(LatxferError):
    """An architecture index (or layer / op code) is outside the search space."""


class MixedSearchSpaceError(LatxferError):
    """One input mixes architectures of several search spaces."""


class UnknownDatasetError(LatxferError):
    """A dataset name that is not registered."""


class UnknownSpaceError(LatxferError):
    """A search-space name that is not registered."""


class UnknownDeviceError(LatxferError, KeyError):
    """A device name that is not in the data."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class InsufficientDataError(LatxferError):
    """Too few measurements for the requested computation (e.g. < 3 common architectures)."""


class UndefinedCorrelationError(LatxferError):
    """A rank correlation is undefined (e.g. constant latencies)."""


class LeakageError(LatxferError):
    """An evaluation would use target-device data for fitting (target also a source)."""


class OutputPathError(LatxferError):
    """An output path latxfer must not write: it exists, is an input, is not latxfer's, or is unwritable."""


class ModelFileError(LatxferError):
    """A file that is not a latxfer model (or is corrupted)."""


class ModelVersionError(LatxferError):
    """A latxfer model saved by another version or with another configuration."""


class ConfigError(LatxferError):
    """An invalid or unknown model / command configuration value."""


class FetchError(LatxferError):
    """Downloading a public dataset failed (network, timeout, partial file)."""


class IntegrityError(FetchError):
    """A downloaded file does not match its pinned SHA-256 hash."""


class UnsafePickleError(LatxferError):
    """A pickle tried to load a global (class or function): refused, it could execute code."""


class MissingBackendError(LatxferError):
    """An optional runtime (e.g. onnxruntime) is not installed; the message names the extra to install."""


class ImplausibleLatencyError(InvalidLatencyError):
    """Latencies that no architecture of a search space could produce on one device.

    Orders of magnitude off the device's other values, repeats of one architecture that disagree far
    beyond measurement noise, no variation at all, or far off a reference (the sources).  Accept them
    with ``allow_implausible=True`` (``--allow-implausible`` on the command line).
    """


class ImplausibleLatencyWarning(LatxferWarning):
    """Implausible latencies that were accepted with ``allow_implausible=True`` (names rows and why)."""
