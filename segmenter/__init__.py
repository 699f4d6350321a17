"""segmenter stage."""
