"""Patient-level splits: the held-out test set and nnU-Net's cross-validation folds.

Cases of one patient (left and right knee, a re-scan) are never on both sides of a
split: a network that saw one knee of a patient scores too well on the other. Both
splits are deterministic for a seed, so a study can be reproduced.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from trainer.casetable import CaseRow


def cases_by_patient(rows: Sequence[CaseRow]) -> dict[str, list[str]]:
    """Patient -> its case names, in table order."""
    groups: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        groups[row.patient].append(row.case)
    return dict(groups)


def split_train_test(rows: Sequence[CaseRow], test_fraction: float, seed: int) -> dict[str, str]:
    """Case -> 'train' or 'test', whole patients at a time.

    Splits given in the table are kept (a patient with one case marked goes wholly to
    that side); the other patients are shuffled with ``seed`` and moved to the test
    side until it holds ``test_fraction`` of all cases (at least one case when the
    fraction is positive, and never every patient).
    """
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError("the test fraction must be at least 0 and below 1")
    groups = cases_by_patient(rows)
    side: dict[str, str] = {}
    for row in rows:
        if row.split:
            side[row.patient] = row.split
    free = sorted(p for p in groups if p not in side)
    order = [free[i] for i in np.random.default_rng(seed).permutation(len(free))]
    target = round(test_fraction * len(rows))
    if test_fraction > 0:
        target = max(target, 1)
    n_test = sum(len(groups[p]) for p, s in side.items() if s == "test")
    keeps_train = any(s == "train" for s in side.values())
    for patient in order:
        is_last = patient == order[-1]
        if n_test < target and not (is_last and not keeps_train):
            side[patient] = "test"
            n_test += len(groups[patient])
        else:
            side[patient] = "train"
            keeps_train = True
    return {row.case: side[row.patient] for row in rows}


def crossval_folds(rows: Sequence[CaseRow], n_folds: int, seed: int) -> list[dict[str, list[str]]]:
    """nnU-Net's ``splits_final.json``: ``n_folds`` folds of {'train', 'val'} grouped by patient.

    Patients are shuffled with ``seed`` and each goes to the fold with the fewest
    cases so far, so folds are balanced in cases. Fewer patients than folds give as
    many folds as patients; a single patient gives no folds (nnU-Net then makes its own).
    """
    groups = cases_by_patient(rows)
    patients = sorted(groups)
    n = min(n_folds, len(patients))
    if n < 2:
        return []
    order = [patients[i] for i in np.random.default_rng(seed).permutation(len(patients))]
    members: list[list[str]] = [[] for _ in range(n)]
    for patient in order:
        smallest = min(range(n), key=lambda k: (len(members[k]), k))
        members[smallest].extend(groups[patient])
    all_cases = [row.case for row in rows]
    return [{"train": sorted(c for c in all_cases if c not in set(val)), "val": sorted(val)} for val in members]
