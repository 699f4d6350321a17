"""The library layer under the stages and the tools: one geometry vocabulary, the crop mapping, radiograph and
result I/O, validated configs, clinical measures, metrics, masks, phantoms, dataset adapters, the shared training
plumbing and the DICOM writers. It imports no stage and no tool (tests/test_layers.py checks it with import-linter).
"""

__version__ = "0.1.0"
