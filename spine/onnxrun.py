"""Crop networks run by ONNX Runtime on the CPU, called exactly like the torch network they come from.

The network is exported in memory when a model is loaded (about 0.6 s per crop network; nothing is written to
disk, so there is no cache to go stale) and run by ONNX Runtime's CPU provider, which is about twice as fast as
torch's eager mode on these small convolutional networks (``bench/pipeline_speed.py``). Outputs agree with torch
within float rounding (``tests/test_onnxrun.py``). On any other device, or with ``runtime: torch``, the torch
network runs as before.
"""

from __future__ import annotations

import io
import logging
import warnings
from typing import Callable, Literal, Sequence

import numpy as np
import torch
from torch import nn

log = logging.getLogger(__name__)

Runtime = Literal["torch", "onnx", "onnx-int8"]
RUNTIMES = ("torch", "onnx", "onnx-int8")


class _Selected(nn.Module):
    """The network with its dict output reduced to a tuple of ``keys`` (what the export needs)."""

    def __init__(self, network: nn.Module, keys: Sequence[str]):
        super().__init__()
        self.network, self.keys = network, tuple(keys)

    def forward(self, x: torch.Tensor):
        out = self.network(x)
        return tuple(out[k] for k in self.keys)


def export_onnx(network: nn.Module, example: torch.Tensor, keys: Sequence[str] | None = None) -> bytes:
    """The eval-mode ``network`` as an ONNX model (bytes) with a free batch dimension; ``keys``: for a network
    returning a dict, the entries to keep, in order."""
    module = _Selected(network, keys) if keys else network
    names = list(keys) if keys else ["output"]
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter: 0.6 s per network against ~10 s for the torch.export one, which matters at load.
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), (example,), buffer, input_names=["input"], output_names=names, opset_version=17,
                          dynamic_axes={"input": {0: "batch"}, **{n: {0: "batch"} for n in names}}, dynamo=False)
    return buffer.getvalue()


class OnnxNetwork:
    """``__call__(x (B, C, H, W) float tensor)`` -> a tensor, or a dict of ``keys`` when the torch network returned
    one; runs on the CPU with ``threads`` intra-op threads (torch's thread count by default); ``runtime`` says which twin it is."""

    def __init__(self, model: bytes, keys: Sequence[str] | None = None, threads: int | None = None, runtime: Runtime = "onnx"):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.log_severity_level = 3
        # No busy-waiting between runs: ORT's threads otherwise spin after each run and take the cores from the
        # torch and numpy work between crop batches (the whole film ran about 30 % slower with them spinning).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        self.keys = tuple(keys) if keys else None
        self.runtime = runtime  # what it is: the float twin ('onnx') or the 8-bit one ('onnx-int8')

    def __call__(self, x: torch.Tensor):
        outputs = self.session.run(None, {"input": np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)})
        tensors = [torch.from_numpy(o) for o in outputs]
        return dict(zip(self.keys, tensors)) if self.keys else tensors[0]


def checked_twin(twin: OnnxNetwork, example_shape: Sequence[int], keys: Sequence[str] | None) -> OnnxNetwork:
    """``twin`` when its input (channels, height, width) and output names are the network's; a ValueError naming
    the difference otherwise (an int8 file of another stage or size put in this folder)."""
    inputs, outputs = twin.session.get_inputs(), [o.name for o in twin.session.get_outputs()]
    shape = list(inputs[0].shape[1:]) if inputs else []
    wanted = [int(d) for d in example_shape[1:]]
    names = list(keys) if keys else None
    if shape != wanted or (names is not None and outputs != names):
        raise ValueError(f"int8.onnx does not fit this network: input {shape} and outputs {outputs}, expected {wanted} and "
                         f"{names or 'one output'}; run python -m pipeline.quantize again")
    return twin


def runtime_of(run) -> Runtime:
    """How a stage's network really runs: its ONNX twin's kind, else 'torch' (another device, a failed export)."""
    return getattr(run, "runtime", "torch") if isinstance(run, OnnxNetwork) else "torch"


def runner(network: nn.Module, runtime: Runtime, device: str, example_shape: Sequence[int],
           keys: Sequence[str] | None = None, int8: bytes | None = None) -> Callable:
    """What runs ``network`` at inference: an :class:`OnnxNetwork` for ``runtime='onnx'`` on the CPU, else the
    network itself; for ``runtime='onnx-int8'`` the ``int8`` model (:mod:`spine.int8`) when the model
    folder has a current one, else the float ONNX twin with a warning. A failed export falls back to torch with a
    warning (same outputs, slower)."""
    if runtime not in ("onnx", "onnx-int8") or str(device) != "cpu":
        return network
    if runtime == "onnx-int8":
        if int8 is not None:
            return checked_twin(OnnxNetwork(int8, keys, runtime="onnx-int8"), example_shape, keys)
        log.warning("no current int8 model for %s (python -m pipeline.quantize writes one); running float ONNX",
                    type(network).__name__)
    try:
        return OnnxNetwork(export_onnx(network, torch.zeros(*example_shape), keys), keys)
    except Exception as error:  # noqa: BLE001 - any exporter or runtime failure leaves the torch network in charge
        log.warning("ONNX Runtime unavailable for %s (%s: %s); running torch", type(network).__name__, type(error).__name__, error)
        return network
