"""EfficientNet-Lite0 run by ONNX Runtime: the frozen network exported once to an ``.onnx`` file, then a session.

On the 2-core CPUs here ONNX Runtime encodes Twitter-2015 images 7-8x faster than eager torch (docs/results.md,
"Speed ratios"); its feature maps match torch's to float rounding (about 1e-5), so the feature cache is
shared by both runtimes. The export lives in the feature cache, named by the weights' sha256, the torch
version and the opset, written atomically; an unreadable export is replaced. Nothing heavy is imported at
module import time.
"""

from __future__ import annotations

import importlib.util
import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from mulcot_bench.atomic import write_bytes

ONNX_INSTALL = "pip install onnxruntime onnx"
OPSET = 17


def onnx_available() -> bool:
    """Whether ONNX Runtime (to run) and onnx (to export) are installed."""
    return all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "onnx"))


def _maps_module(net: Any) -> Any:
    """A torch module whose forward is ``net``'s last feature map (what gets exported)."""
    import torch

    class Maps(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net.extract_features(x)

    return Maps()


def export_path(folder: Path, weights_sha256: str) -> Path:
    """Where the export of these weights by this torch version lives."""
    import torch

    return folder / f"efficientnet-lite0-{weights_sha256[:16]}-torch{torch.__version__}-opset{OPSET}.onnx"


def export(net: Any, path: Path) -> None:
    """Export ``net``'s feature maps with dynamic batch and input side, written atomically to ``path``."""
    import torch

    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter warns about its own deprecation
        torch.onnx.export(_maps_module(net), torch.zeros(1, 3, 64, 64), buffer, input_names=["image"],
                          output_names=["maps"], dynamic_axes={"image": {0: "n", 2: "h", 3: "w"}},
                          opset_version=OPSET, dynamo=False)
    write_bytes(path, buffer.getvalue())


class OnnxImageNet:
    """An ONNX Runtime session on the exported network: ``(N, 3, s, s)`` float32 -> ``(N, 1280, s/32, s/32)``.

    ``threads``: ONNX Runtime intra-op threads (None: its default, one per physical core). Idle workers sleep
    instead of spinning, so a shared machine's other jobs keep their cores.
    """

    def __init__(self, path: Path, threads: int | None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.inter_op_num_threads = 1
        if threads is not None:
            options.intra_op_num_threads = threads
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"image": np.ascontiguousarray(batch, dtype=np.float32)})[0]


def load_session(path: Path, threads: int | None, build_net: Any) -> OnnxImageNet:
    """A session on the export at ``path``, exporting ``build_net()`` first when it is missing or unreadable."""
    if path.is_file():
        try:
            return OnnxImageNet(path, threads)
        except Exception:  # a damaged export (onnxruntime raises its own types): export it again
            pass
    export(build_net(), path)
    return OnnxImageNet(path, threads)
