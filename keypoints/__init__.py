"""keypoints stage."""
