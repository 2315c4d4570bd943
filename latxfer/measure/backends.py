"""Timing backends: XLA through JAX (``jax``) and ONNX Runtime (``onnxruntime``) on the local device.

Each backend compiles a network once outside the timed region, runs ``warmup`` untimed calls, then times
``repeats`` calls one by one (``time.perf_counter`` around a call that waits for its result:
``block_until_ready`` for JAX, ``InferenceSession.run`` for ONNX Runtime, which returns host arrays).
The compiled executable / session is dropped after each architecture (and JAX's caches cleared), so memory
stays flat over thousands of architectures.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from dataclasses import dataclass

import numpy as np

from latxfer.errors import ConfigError, MissingBackendError

__all__ = ["BACKENDS", "Timing", "Backend", "JaxBackend", "OnnxRuntimeBackend", "get_backend",
           "set_jax_threads", "processor_name"]

#: backend name -> (module to import, extra that provides it)
BACKENDS: dict[str, tuple[str, str]] = {"jax": ("jax", "latxfer (jax is a core dependency)"),
                                        "onnxruntime": ("onnxruntime", "latxfer[onnx]")}


@dataclass
class Timing:
    """Timing of one architecture.

    Attributes
    ----------
    repeats_ms : numpy.ndarray
        Latency of each timed call, milliseconds.
    compile_s : float
        Seconds to build, compile (JAX) or export and load (ONNX Runtime) the network.
    time_s : float
        Seconds of warm-up plus timed calls.
    """

    repeats_ms: np.ndarray
    compile_s: float
    time_s: float

    @property
    def median_ms(self) -> float:
        """Median of the repeats."""
        return float(np.median(self.repeats_ms))

    @property
    def spread(self) -> float:
        """Relative spread of the repeats: (p90 - p10) / median."""
        p10, p90 = np.percentile(self.repeats_ms, [10, 90])
        return float((p90 - p10) / self.median_ms)


def processor_name() -> str:
    """The CPU model (``/proc/cpuinfo``'s ``model name`` on Linux, else :func:`platform.processor`)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def set_jax_threads(threads: int | None) -> bool:
    """Limit XLA's CPU threads through ``XLA_FLAGS``; True if applied (only before jax is imported)."""
    if threads is None:
        return False
    if "jax" in sys.modules:
        return os.environ.get("LATXFER_XLA_THREADS") == str(threads)
    flags = os.environ.get("XLA_FLAGS", "")
    extra = f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} " \
            f"intra_op_parallelism_threads={threads}"
    os.environ["XLA_FLAGS"] = f"{flags} {extra}".strip()
    os.environ["LATXFER_XLA_THREADS"] = str(threads)
    return True


def _timed_loop(call, warmup: int, repeats: int) -> tuple[np.ndarray, float]:
    t0 = time.perf_counter()
    for _ in range(warmup):
        call()
    out = np.empty(repeats)
    for i in range(repeats):
        t = time.perf_counter()
        call()
        out[i] = (time.perf_counter() - t) * 1e3
    return out, time.perf_counter() - t0


class Backend:
    """Base class: ``time(network, warmup, repeats) -> Timing`` and :meth:`info` for the metadata."""

    name = "base"

    def __init__(self, platform_: str = "cpu", threads: int | None = None):
        self.platform = platform_
        self.threads = threads

    def info(self) -> dict:
        """Library versions, processor and threads (the ``FILE.csv.json`` metadata)."""
        return {"backend": self.name, "platform": self.platform, "threads": self.threads,
                "processor": processor_name(), "python": platform.python_version(),
                "machine": platform.machine(), "system": platform.system()}


class JaxBackend(Backend):
    """XLA through ``jax.jit`` on ``jax.devices(platform)[0]``."""

    name = "jax"

    def __init__(self, platform_: str = "cpu", threads: int | None = None):
        super().__init__(platform_, threads)
        self.threads_applied = set_jax_threads(threads)
        import jax

        try:
            self.device = jax.devices(platform_)[0]
        except RuntimeError:
            have = sorted({d.platform for d in jax.devices()})
            raise ConfigError(f"--platform {platform_}: JAX sees no {platform_.upper()} device (it has "
                              f"{', '.join(have)}); install a JAX build for it (e.g. `pip install "
                              f"\"jax[cuda12]\"`) or pass --platform cpu") from None

    def info(self) -> dict:
        import jax
        import jaxlib

        d = super().info()
        d.update({"jax": jax.__version__, "jaxlib": jaxlib.__version__, "device_kind": self.device.device_kind,
                  "threads_applied": self.threads_applied, "xla_flags": os.environ.get("XLA_FLAGS", "")})
        return d

    def time(self, net, warmup: int, repeats: int) -> Timing:
        """Compile ``net`` (not timed), warm up, time ``repeats`` calls."""
        import jax

        t0 = time.perf_counter()
        params = jax.device_put(net.params, self.device)
        x = jax.device_put(net.example_input(), self.device)
        compiled = jax.jit(net.apply).lower(params, x).compile()
        compiled(params, x).block_until_ready()
        compile_s = time.perf_counter() - t0
        try:  # the executable and buffers are locals: released when this returns
            reps, time_s = _timed_loop(lambda: compiled(params, x).block_until_ready(), warmup, repeats)
        finally:
            jax.clear_caches()
        return Timing(reps, compile_s, time_s)


class OnnxRuntimeBackend(Backend):
    """ONNX Runtime's CPU (or CUDA) execution provider on the network exported by :mod:`.export`."""

    name = "onnxruntime"

    def __init__(self, platform_: str = "cpu", threads: int | None = None):
        super().__init__(platform_, threads)
        ort = _require("onnxruntime")
        _require("jax2onnx")
        provider = {"cpu": "CPUExecutionProvider", "gpu": "CUDAExecutionProvider"}[platform_]
        if provider not in ort.get_available_providers():
            raise ConfigError(f"--platform {platform_}: onnxruntime has no {provider} (available: "
                              f"{', '.join(ort.get_available_providers())}); install onnxruntime-gpu "
                              "or pass --platform cpu")
        self.providers = [provider]

    def info(self) -> dict:
        import jax2onnx
        import onnx
        import onnxruntime as ort

        d = super().info()
        d.update({"onnxruntime": ort.__version__, "onnx": onnx.__version__,
                  "jax2onnx": getattr(jax2onnx, "__version__", _dist_version("jax2onnx")),
                  "providers": self.providers})
        return d

    def session(self, model_bytes: bytes):
        """An InferenceSession on ``model_bytes`` with this backend's threads and providers."""
        import onnxruntime as ort

        so = ort.SessionOptions()
        if self.threads:
            so.intra_op_num_threads = int(self.threads)
            so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        return ort.InferenceSession(model_bytes, so, providers=self.providers)

    def time(self, net, warmup: int, repeats: int) -> Timing:
        """Export ``net`` to ONNX and load it (not timed), warm up, time ``repeats`` calls."""
        from latxfer.measure.export import to_onnx

        t0 = time.perf_counter()
        model = to_onnx(net)
        sess = self.session(model.SerializeToString())
        name = sess.get_inputs()[0].name
        feed = {name: net.example_input()}
        sess.run(None, feed)
        compile_s = time.perf_counter() - t0
        reps, time_s = _timed_loop(lambda: sess.run(None, feed), warmup, repeats)
        return Timing(reps, compile_s, time_s)  # the session is a local: released when this returns


def _dist_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def _require(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingBackendError(f"--backend onnxruntime needs the package {module!r}, which is not "
                                  "installed; install the extra with `pip install \"latxfer[onnx]\"`") from None


def get_backend(name: str, platform_: str = "cpu", threads: int | None = None) -> Backend:
    """The backend ``name`` (``"jax"`` or ``"onnxruntime"``) on ``platform_``.

    ``platform_`` is ``"cpu"``, ``"gpu"`` or ``"auto"`` (JAX: a GPU when ``jax.devices()`` has one, else
    the CPU; ONNX Runtime: the CPU).

    Raises
    ------
    ConfigError
        Unknown backend or platform, or the platform's device is absent.
    MissingBackendError
        The backend's package is not installed (names the extra to install).
    """
    if name not in BACKENDS:
        raise ConfigError(f"--backend {name!r}: unknown backend; expected one of {sorted(BACKENDS)}")
    if platform_ not in ("auto", "cpu", "gpu"):
        raise ConfigError(f"--platform {platform_!r}: expected auto, cpu or gpu")
    if platform_ == "auto":
        platform_ = "cpu"
        if name == "jax":
            set_jax_threads(threads)
            import jax

            platform_ = "gpu" if any(d.platform == "gpu" for d in jax.devices()) else "cpu"
    if threads is not None and threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {threads}")
    cls = JaxBackend if name == "jax" else OnnxRuntimeBackend
    return cls(platform_, threads)
