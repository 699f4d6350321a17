"""Whole-film level evidence: a network that sees the whole spine's frame at once (first ribs to pelvis) and paints
every pixel of each vertebral body T1-L5 with its level; the chain decode reads it beside the crop identifier's."""
