"""The level identifier's research half: its training config, chains found on training films and their labels, the
chain cache, training and evaluation."""
