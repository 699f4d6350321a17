"""Level identification along the chain: which vertebra each member of the detector's chain is.

For every member of the chain the priors found, a small CNN looks at a wide context crop (ribs, iliac crests,
sacrum, neighbours), a sequence layer reads the chain from end to end, and a lattice decode names the chain under
the rule that levels run consecutively (a missing vertebra, an extra T13 or L6 and members that are no vertebra at
all allowed at a cost). Modules: ``config``, ``data`` (chains, labels, context crops), ``model`` (raw logits),
``decode`` (the lattice: best naming, per-vertebra probabilities, margin to the runner-up), ``train``,
``predict`` (:class:`LevelIdentifier`) and ``evaluate`` (naming figures).
"""
