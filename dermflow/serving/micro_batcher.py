"""Concurrent requests -> one model call: a bounded wait for company, a bounded queue, then 503.

    batcher = MicroBatcher(predict_many, max_batch_size=16, max_wait_s=0.01, queue_size=64)
    future = batcher.submit(item)          # raises QueueFull when queue_size items are waiting
    result = future.result(timeout=60)     # or: await asyncio.wrap_future(future)
    batcher.close()

One worker thread takes the first waiting item, waits at most ``max_wait_s`` for more (up to
``max_batch_size``), and calls ``process(items)`` once for them all. ``process`` returns one result
per item, in order; an exception fails every item of that batch (and only that batch).
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future
from typing import Callable, Generic, Sequence, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class QueueFull(RuntimeError):
    """Too many requests are waiting for the model; the caller answers 503 with Retry-After."""


class MicroBatcher(Generic[T, R]):
    def __init__(self, process: Callable[[Sequence[T]], Sequence[R]], max_batch_size: int, max_wait_s: float, queue_size: int):
        if max_batch_size < 1 or queue_size < 1:
            raise ValueError("max_batch_size and queue_size must be at least 1")
        self._process = process
        self._max_batch_size = max_batch_size
        self._max_wait_s = max(0.0, max_wait_s)
        self._queue: queue.Queue[tuple[T, Future] | None] = queue.Queue(maxsize=queue_size)
        self._closed = False
        self.batches = 0  # model calls made (for tests and the health report)
        self.largest_batch = 0
        self._worker = threading.Thread(target=self._run, name="dermflow-micro-batcher", daemon=True)
        self._worker.start()

    @property
    def waiting(self) -> int:
        return self._queue.qsize()

    def submit(self, item: T) -> Future:
        if self._closed:
            raise RuntimeError("the micro-batcher is closed")
        future: Future = Future()
        try:
            self._queue.put_nowait((item, future))
        except queue.Full:
            raise QueueFull(f"{self._queue.maxsize} requests are already waiting for the model") from None
        return future

    def close(self, timeout: float = 10.0) -> None:
        """Finishes what is queued, then stops the worker."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._worker.join(timeout)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            deadline = time.monotonic() + self._max_wait_s
            stop = False
            while len(batch) < self._max_batch_size:
                remaining = deadline - time.monotonic()
                try:
                    entry = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if entry is None:
                    stop = True
                    break
                batch.append(entry)
            self._call(batch)
            if stop:
                return

    def _call(self, batch: list[tuple[T, Future]]) -> None:
        live = [(item, future) for item, future in batch if future.set_running_or_notify_cancel()]
        if not live:
            return
        self.batches += 1
        self.largest_batch = max(self.largest_batch, len(live))
        try:
            results = list(self._process([item for item, _ in live]))
            if len(results) != len(live):
                raise RuntimeError(f"process returned {len(results)} results for {len(live)} items")
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting request of this batch
            log.exception("a model call of %d requests failed", len(live))
            for _, future in live:
                future.set_exception(exc)
            return
        for (_, future), result in zip(live, results):
            future.set_result(result)
