"""The micro-batcher: concurrent items share one call, the queue is bounded, a failure stays in its batch."""
from __future__ import annotations

import threading
import time

import pytest

from dermflow.serving.micro_batcher import MicroBatcher, QueueFull


def test_items_that_arrive_together_share_one_call():
    calls = []

    def process(items):
        calls.append(list(items))
        return [item * 10 for item in items]

    batcher = MicroBatcher(process, max_batch_size=8, max_wait_s=0.2, queue_size=16)
    futures = [batcher.submit(i) for i in range(5)]
    assert [f.result(timeout=5) for f in futures] == [0, 10, 20, 30, 40]
    assert calls == [[0, 1, 2, 3, 4]]
    batcher.close()


def test_a_batch_never_exceeds_its_size_and_waits_at_most_the_bound():
    calls = []
    batcher = MicroBatcher(lambda items: calls.append(len(items)) or list(items), max_batch_size=3, max_wait_s=0.05, queue_size=16)
    started = time.monotonic()
    futures = [batcher.submit(i) for i in range(7)]
    [f.result(timeout=5) for f in futures]
    assert max(calls) <= 3 and sum(calls) == 7
    lone = batcher.submit(99)
    assert lone.result(timeout=5) == 99
    assert time.monotonic() - started < 2.0
    batcher.close()


def test_a_full_queue_refuses_instead_of_growing():
    release = threading.Event()

    def slow(items):
        release.wait(5)
        return list(items)

    batcher = MicroBatcher(slow, max_batch_size=1, max_wait_s=0.0, queue_size=2)
    first = batcher.submit(0)
    time.sleep(0.2)  # the worker holds item 0; two more fill the queue
    queued = [batcher.submit(1), batcher.submit(2)]
    with pytest.raises(QueueFull):
        batcher.submit(3)
    release.set()
    assert [f.result(timeout=5) for f in (first, *queued)] == [0, 1, 2]
    assert batcher.submit(4).result(timeout=5) == 4
    batcher.close()


def test_a_failing_call_fails_only_its_own_batch():
    def process(items):
        if "bad" in items:
            raise RuntimeError("model broke")
        return list(items)

    batcher = MicroBatcher(process, max_batch_size=4, max_wait_s=0.1, queue_size=8)
    bad = [batcher.submit("bad"), batcher.submit("x")]
    for future in bad:
        with pytest.raises(RuntimeError, match="model broke"):
            future.result(timeout=5)
    assert batcher.submit("fine").result(timeout=5) == "fine"
    batcher.close()
