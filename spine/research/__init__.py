"""The research wing's library: dataset adapters, the crop bank and its data modules, augmentation, box jitter,
metrics, ImageNet weights and the shared Lightning plumbing. Nothing the shipped runtime loads imports it."""
