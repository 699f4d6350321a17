"""The detector's headline figures come from our own AP function: it must agree with a reference implementation,
torchmetrics' MeanAveragePrecision on the COCO evaluator (pycocotools), on random sets of boxes."""

from __future__ import annotations

import numpy as np
import pytest

from spine.research.metrics import ap_50_95, average_precision


def random_sets(seed: int, films: int = 12):
    rng = np.random.default_rng(seed)
    preds, truths = [], []
    for _ in range(films):
        n = int(rng.integers(3, 18))
        xy = rng.uniform(0, 400, (n, 2))
        wh = rng.uniform(20, 60, (n, 2))
        truth = np.hstack([xy, xy + wh])
        keep = truth[rng.random(n) < 0.85]
        noisy = keep + rng.normal(0, 6, keep.shape)
        false = np.hstack([xy[:3] + 200, xy[:3] + 240])
        boxes = np.vstack([noisy, false])
        scores = np.concatenate([rng.uniform(0.4, 1.0, len(noisy)), rng.uniform(0.0, 0.7, len(false))])
        preds.append((boxes, scores))
        truths.append(truth)
    return preds, truths


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ap_equals_the_coco_evaluator(seed):
    torch = pytest.importorskip("torch")
    pytest.importorskip("pycocotools")
    from torchmetrics.detection import MeanAveragePrecision

    preds, truths = random_sets(seed)
    metric = MeanAveragePrecision(iou_type="bbox", iou_thresholds=[0.5], backend="pycocotools")
    metric50_95 = MeanAveragePrecision(iou_type="bbox", backend="pycocotools")
    as_pred = [{"boxes": torch.tensor(b, dtype=torch.float32), "scores": torch.tensor(s, dtype=torch.float32),
                "labels": torch.zeros(len(b), dtype=torch.int64)} for b, s in preds]
    as_true = [{"boxes": torch.tensor(t, dtype=torch.float32), "labels": torch.zeros(len(t), dtype=torch.int64)} for t in truths]
    metric.update(as_pred, as_true)
    metric50_95.update(as_pred, as_true)
    assert average_precision(preds, truths, 0.5) == pytest.approx(float(metric.compute()["map"]), abs=2e-3)
    assert ap_50_95(preds, truths) == pytest.approx(float(metric50_95.compute()["map"]), abs=2e-3)
