"""One out-of-scope decision from two signals: memory (the abstention outputs) and novelty (the feature distance).

    decision = fit_out_of_scope_decision(novelty_b, memory_b, retention=0.95)   # part B's in-scope images
    decision.out_of_scope(novelty, memory)       # bool [N]
    decision.in_scope_score(novelty, memory)     # (0, 1]: the single ranked score
    other_diagnosis, novel = decision.fired(novelty, memory)   # which signal raised the flag
    decision.flag                                 # {"status": "retention" | "beyond_every_held_out_image" | ...}

Each signal is ranked against part B's held-out in-scope images: its rank is how many of them
score strictly lower (novelty: the feature distance, :mod:`dermflow.trust.feature_distance`;
memory: ``log(p_other / (1 - p_other))`` of the abstention outputs,
:mod:`dermflow.trust.abstention_outputs`). The decision score is the larger of the two ranks, an
integer in [0, n], so an image is out of scope when *either* signal is unusual for in-scope images:
a photo stays flagged whatever the abstention outputs say, and a benign keratosis the features
call ordinary is flagged by memory. ``fired`` says which rank passed the threshold (both can).
Without abstention outputs the memory rank is 0 and the decision is the feature distance alone,
exactly as before: its ranks order images as the distances do, and the threshold flags the same ones.

The threshold is the ceil((n + 1) retention)-th smallest decision score of part B, so a new
in-scope image exchangeable with part B is flagged with probability at most 1 - retention
(issue 30 item 6 for small n). ``in_scope_score`` = (1 + #part-B scores >= s) / (1 + n).

**Too few held-out images.** That rank exists only when n >= retention / (1 - retention) (19 at 95%).
With fewer (but at least one) the flag falls back to firing only on images *beyond every* part-B
image in novelty or memory (decision score n): an in-scope image is then flagged with probability at
most 1/(n + 1) per signal (2/(n + 1) with both), and a photo far from every training image is still
caught. ``flag["status"]`` says which holds; the Trainer logs it, and calibration.json, the report
and ``/api/v1/model`` carry it. With no part-B image at all the flag cannot fire.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

RETENTION = "retention"
FALLBACK = "beyond_every_held_out_image"
CANNOT_FIRE = "cannot_fire"
METHOD = "either(novelty: feature distance, memory: abstention outputs), ranked against part B's in-scope images"


def count_below(sorted_reference: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """How many reference scores are strictly below each score, in float32 as the exported model compares them (so a
    part-B image is not counted below its own float32 reference value)."""
    scores = np.asarray(scores, np.float64).astype(np.float32).astype(np.float64)
    return np.searchsorted(np.asarray(sorted_reference, np.float64), scores, side="left")


def images_needed(retention: float) -> int:
    """The smallest n with ceil((n + 1) retention) <= n: how many part-B images the retention's quantile needs."""
    n = 1
    while math.ceil((n + 1) * retention - 1e-9) > n:
        n += 1
    return n


@dataclass(frozen=True)
class OutOfScopeDecision:
    novelty_reference: np.ndarray  # float32 [n], sorted: part B's in-scope feature distances
    memory_reference: np.ndarray  # float32 [n], sorted: part B's in-scope memory scores; [0] without abstention
    reference: np.ndarray  # float32 [n], sorted: part B's in-scope decision scores
    threshold: float  # a decision score above it is out of scope; inf: the flag cannot fire
    flag: dict = field(default_factory=dict)

    @property
    def has_memory(self) -> bool:
        return bool(self.memory_reference.size)

    def ranks(self, novelty: np.ndarray, memory: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(novelty rank, memory rank) per image; the memory rank is 0 without abstention outputs."""
        novelty_rank = count_below(self.novelty_reference, novelty)
        memory_rank = count_below(self.memory_reference, memory) if self.has_memory else np.zeros_like(novelty_rank)
        return novelty_rank, memory_rank

    def score(self, novelty: np.ndarray, memory: np.ndarray) -> np.ndarray:
        """The decision score (grows with "out of scope"): the larger rank, as float64."""
        return np.maximum(*self.ranks(novelty, memory)).astype(np.float64)

    def in_scope_score(self, novelty: np.ndarray, memory: np.ndarray) -> np.ndarray:
        """(1 + #part-B decision scores >= s) / (1 + n): the share of held-out in-scope images at least this unusual."""
        at_least = self.reference.size - count_below(self.reference, self.score(novelty, memory))
        return (1.0 + at_least) / (1.0 + self.reference.size)

    def out_of_scope(self, novelty: np.ndarray, memory: np.ndarray) -> np.ndarray:
        return self.score(novelty, memory) > self.threshold

    def fired(self, novelty: np.ndarray, memory: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(other_diagnosis, novel): bool [N] each, whether memory / novelty alone passes the threshold."""
        novelty_rank, memory_rank = self.ranks(novelty, memory)
        return memory_rank > self.threshold, novelty_rank > self.threshold

    @classmethod
    def identity(cls) -> "OutOfScopeDecision":
        empty = np.zeros([0], np.float32)
        return cls(empty, empty, empty, math.inf, {"status": CANNOT_FIRE, "reason": "not fitted"})

    def summary(self) -> dict:
        return {"method": METHOD, "signals": ["novelty", "memory"] if self.has_memory else ["novelty"],
                "decision_threshold": None if math.isinf(self.threshold) else self.threshold,
                "reference_size": int(self.reference.size), "flag": self.flag}


def fit_out_of_scope_decision(novelty: np.ndarray, memory: np.ndarray | None, retention: float) -> OutOfScopeDecision:
    """References and threshold from part B's held-out in-scope images (``memory`` None: no abstention outputs)."""
    novelty_reference = np.sort(np.asarray(novelty, np.float64)).astype(np.float32)
    memory_reference = (np.sort(np.asarray(memory, np.float64)).astype(np.float32) if memory is not None
                        else np.zeros([0], np.float32))
    provisional = OutOfScopeDecision(novelty_reference, memory_reference, np.zeros([0], np.float32), math.inf)
    # Part B's own decision scores, image by image (an image is not below itself: ranks 0..n-1 there, 0..n for a
    # new image, which makes the threshold optimistic by at most about 1/n: docs/trust.md).
    reference = np.sort(provisional.score(novelty, novelty if memory is None else memory)).astype(np.float32)
    n, needed = int(reference.size), images_needed(retention)
    signals = 2 if memory is not None else 1
    flag = {"status": RETENTION, "in_scope_retention": retention, "held_out_in_scope": n, "needed": needed}
    if n >= needed:
        threshold = float(reference[math.ceil((n + 1) * retention - 1e-9) - 1])
        flag["promise"] = (f"an in-scope image exchangeable with the {n} held-out ones is flagged with probability "
                           f"at most {1 - retention:.0%}")
    elif n:
        threshold = float(reference[-1])
        flag.update(status=FALLBACK, promise=(
            f"the {retention:.0%} retention needs {needed} held-out in-scope images, there are {n}: the flag fires only "
            f"beyond every one of them; an in-scope image is flagged with probability at most "
            f"{signals}/{n + 1} = {signals / (n + 1):.0%}"))
    else:
        threshold = math.inf
        flag.update(status=CANNOT_FIRE, promise="no held-out in-scope images: the flag cannot fire")
    return OutOfScopeDecision(novelty_reference, memory_reference, reference, threshold, flag)
