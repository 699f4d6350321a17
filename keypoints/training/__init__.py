"""The keypoint head's research half: its training config, training and evaluation."""
