"""Int8 twins of the crop networks (ONNX Runtime static quantisation), stored in the model folder they come from.

    <folder>/int8.onnx     the network quantised to 8 bits (weights per channel, activations per tensor)
    <folder>/meta.json     "int8": the weights' digest it was made from, its calibration and its agreement with
                           the float network (written by ``python -m pipeline.quantize``)

Only convolutions, their ReLU6 clips and the encoder's residual additions are quantised: quantising the decoder's
ReLU, concatenation and resize as well moved the keypoint heatmaps' peaks by about 11 px per corner on training
crops (measured with ORT 1.32; the decoder costs little, the encoder is where the time goes). An int8 model whose
weights digest no longer matches the folder's weights is stale and not used (:func:`load_int8` returns None, the
float ONNX twin runs).
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from pathlib import Path
from typing import Iterable

import numpy as np

from spine.modelfolder import WEIGHTS, read_meta, update_meta

log = logging.getLogger(__name__)

INT8 = "int8.onnx"
CROP_STAGES = ("segmenter", "keypoints")  # the stages whose networks may run as int8 twins
QUANTISED_OPS = ("Conv", "Clip", "Add")


def weights_digest(folder: str | Path) -> str:
    """sha256 of the folder's weights file: what ties an int8 model to the weights it was made from."""
    return hashlib.sha256((Path(folder) / WEIGHTS).read_bytes()).hexdigest()


def quantize(model: bytes, batches: Iterable[np.ndarray]) -> bytes:
    """The float ONNX ``model`` (input named 'input') quantised to int8, activation ranges calibrated (min/max) on
    ``batches`` of (B, C, H, W) float32 inputs like those it will see."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.feeds = iter({"input": np.ascontiguousarray(b, dtype=np.float32)} for b in batches)

        def get_next(self):
            return next(self.feeds, None)

    with tempfile.TemporaryDirectory() as tmp:
        raw, pre, out = Path(tmp, "float.onnx"), Path(tmp, "pre.onnx"), Path(tmp, INT8)
        raw.write_bytes(model)
        quant_pre_process(str(raw), str(pre), skip_symbolic_shape=True)
        # reduce_range: 7-bit weights, so that the U8S8 kernels of CPUs without VNNI (AVX2 only, as here) cannot
        # saturate; with 8-bit weights an AVX2 machine's int8 twin was 8 % off the float network (tests/test_quantize.py)
        quantize_static(str(pre), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        op_types_to_quantize=list(QUANTISED_OPS), reduce_range=True)
        return out.read_bytes()


def save_int8(folder: str | Path, model: bytes, record: dict) -> None:
    """Write the int8 model beside the weights it was made from; ``record`` (calibration, agreement) goes into
    meta.json under "int8" with the weights' digest."""
    folder = Path(folder)
    (folder / INT8).write_bytes(model)
    update_meta(folder, int8={"file": INT8, "weights_sha256": weights_digest(folder), **record})


def load_int8(folder: str | Path) -> bytes | None:
    """The folder's int8 model, or None where it has none or it was made from other weights (a warning says so)."""
    folder = Path(folder)
    if not (folder / INT8).exists():
        return None
    made_from = read_meta(folder).get("int8", {}).get("weights_sha256")
    if made_from != weights_digest(folder):
        log.warning("%s: %s was made from other weights; not used (python -m pipeline.quantize remakes it)", folder, INT8)
        return None
    return (folder / INT8).read_bytes()
