"""The segmenter's research half: its training config, crop data, training (crop and whole-film) and evaluation."""
