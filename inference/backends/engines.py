"""Execution engines: the same network run by eager PyTorch, ONNX Runtime or OpenVINO.

The model is exported once from the real PyTorch module and weights to ONNX, under
``registry.engine_cache_dir`` (a folder per weights hash, so new weights mean a new export
and a stale one is never loaded). OpenVINO compiles that file (its compiled blob is cached
next to it); ONNX Runtime runs it directly, and also runs the dynamic-int8 variant.

Measured on the 2-vCPU Xeon (AVX-512 VNNI) this was built on (issue 11, bench/inference.py):
OpenVINO is the fastest fp32 engine for the CNNs (EfficientNet-Lite0 ~1.5x ONNX Runtime),
ONNX Runtime's dynamic int8 is the only int8 path that pays (OpenVINO runs the same
quantized graph slower than its own fp32). Hence both: OpenVINO for fp32, ONNX Runtime for
int8 and as the alternative engine.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

logger = logging.getLogger(__name__)

ENGINES = ("openvino", "onnx", "torch")
# Bumped when the export code changes, so older cached exports are not reused.
EXPORT_FORMAT = "v1"
OPSET = 17


class Runner:
    """Callable ``(batch) -> outputs`` on numpy arrays, with what ran it."""

    engine: str = ""
    precision: str = "fp32"

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class TorchRunner(Runner):
    engine = "torch"

    def __init__(self, module: torch.nn.Module) -> None:
        self.module = module.eval()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return self.module(torch.from_numpy(batch)).float().numpy()


class OnnxRuntimeRunner(Runner):
    engine = "onnx"

    def __init__(self, path: Path, *, threads: int, precision: str = "fp32") -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.precision = precision

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: batch})[0]


class OpenVinoRunner(Runner):
    engine = "openvino"

    def __init__(self, path: Path, *, threads: int) -> None:
        import openvino as ov

        core = ov.Core()
        # The compiled blob is cached beside the export: later starts skip compilation.
        core.set_property({"CACHE_DIR": str(path.parent / "openvino")})
        self.compiled = core.compile_model(
            str(path),
            "CPU",
            {
                "INFERENCE_NUM_THREADS": threads,
                "PERFORMANCE_HINT": "LATENCY",
                # Never bf16/f16 behind our back (CPUs with AMX would): parity with PyTorch.
                "INFERENCE_PRECISION_HINT": "f32",
            },
        )
        self.request = self.compiled.create_infer_request()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        # One request reused: callers serialise (the backend holds a lock per model).
        self.request.infer({0: batch})
        return np.array(self.request.get_output_tensor(0).data, copy=True)


def _atomic_write(target: Path, write: Callable[[Path], None]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, target)  # a concurrent worker never loads half a file
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


_export_lock = threading.Lock()


def onnx_export(
    module: torch.nn.Module,
    example: torch.Tensor,
    target: Path,
    *,
    dynamic_axes: dict[str, dict[int, str]],
    input_name: str,
) -> Path:
    """Export ``module`` to ``target`` unless it is already there (same weights hash)."""
    if target.is_file():
        return target
    with _export_lock:
        if not target.is_file():
            logger.info("Exporting %s to ONNX", target)

            def write(path: Path) -> None:
                # Gradients on while tracing: under no_grad PyTorch takes the fused attention
                # fast path (_native_multi_head_attention), which has no ONNX form.
                with (
                    torch.inference_mode(False),
                    torch.enable_grad(),
                    warnings.catch_warnings(),  # tracer notes on shape checks: expected here
                ):
                    warnings.simplefilter("ignore")
                    torch.onnx.export(
                        module.eval(),
                        (example,),
                        str(path),
                        dynamo=False,  # the TorchScript exporter: no onnxscript dependency
                        input_names=[input_name],
                        output_names=["output"],
                        dynamic_axes=dynamic_axes,
                        opset_version=OPSET,
                    )

            _atomic_write(target, write)
    return target


def int8_export(fp32: Path) -> Path:
    """Dynamic int8 (weights int8, activations quantized per batch): no calibration set,
    and on VNNI CPUs the transformer's matrix products run ~2.5x faster."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target = fp32.with_name(fp32.name.replace("-fp32", "-int8"))
    if not target.is_file():
        with _export_lock:
            if not target.is_file():
                _atomic_write(
                    target,
                    lambda path: quantize_dynamic(
                        str(fp32), str(path), weight_type=QuantType.QInt8
                    ),
                )
    return target


def runner_build(
    *,
    engine: str,
    module: torch.nn.Module,
    example: torch.Tensor,
    directory: Path,
    part: str,
    threads: int,
    dynamic_axes: dict[str, dict[int, str]] | None = None,
    input_name: str = "input",
) -> Runner:
    """A runner for ``module`` (already loaded with its weights) on ``engine``."""
    if engine not in ENGINES:
        raise ValueError(f"Unknown inference engine {engine!r}: use one of {', '.join(ENGINES)}.")
    if engine == "torch":
        return TorchRunner(module)
    path = onnx_export(
        module,
        example,
        fp32_onnx_path(directory, part),
        dynamic_axes=dynamic_axes or {input_name: {0: "batch"}, "output": {0: "batch"}},
        input_name=input_name,
    )
    if engine == "onnx":
        return OnnxRuntimeRunner(path, threads=threads)
    return OpenVinoRunner(path, threads=threads)


def int8_runner_build(fp32_onnx: Path, *, threads: int) -> Runner:
    return OnnxRuntimeRunner(int8_export(fp32_onnx), threads=threads, precision="int8")


def fp32_onnx_path(directory: Path, part: str) -> Path:
    return directory / f"{part}-fp32-{EXPORT_FORMAT}.onnx"
