"""The level map's research half: its training config, the films' label maps, training and the cross-validation of the naming."""
