"""The detector's research half: its training config, the ultralytics dataset export, training and evaluation."""
