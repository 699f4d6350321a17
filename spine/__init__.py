"""The library under the stages and the tools: one geometry vocabulary, the crop mapping, radiograph and result
I/O, validated configs, clinical measures, masks, phantoms, the stage Protocols, ONNX Runtime and the DICOM writers.
:mod:`spine.research` holds what only training and evaluation use (datasets, crop bank, augmentation, metrics,
Lightning plumbing). It imports no stage and no tool (tests/test_layers.py checks it with import-linter).
"""

__version__ = "0.1.0"
