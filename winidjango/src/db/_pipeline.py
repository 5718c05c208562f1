"""How the chunks of one bulk call are run: pipelined, chunk by chunk, or in parallel.

Three strategies, chosen by ``bulk.py`` from ``atomic=`` and the transaction
state of the caller's connection:

- ``run_pipelined``: one transaction on the caller's connection. Worker threads
  *prepare* upcoming chunks (checks, values, SQL) while the caller's thread
  *executes* the prepared ones in order. All writes happen on the connection
  that owns the transaction, so rollback and composability hold.
- ``run_chunkwise``: no overall transaction; every chunk is its own atomic
  block (a savepoint inside a caller's transaction), in the caller's thread.
- ``run_parallel``: worker threads each hold their own connection and run
  whole chunks, each committing on its own; for ``atomic=False`` callers who
  want concurrent writes.

The input is read in the caller's thread (generators need not be thread safe)
and never more than a few chunks ahead of the writes.
"""

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice
from queue import Queue

from django.db import connections, transaction

from winidjango.src.db.exceptions import BulkPartialFailureError


def chunked[T](iterable: Iterable[T], step: int) -> Iterator[list[T]]:
    """Yield lists of up to ``step`` items, pulling from ``iterable`` lazily."""
    iterator = iter(iterable)
    while chunk := list(islice(iterator, step)):
        yield chunk


def run_pipelined[C, P, R](
    chunks: Iterator[C],
    prepare: Callable[[C], P],
    execute: Callable[[P], R],
    threads: int,
) -> list[R]:
    """Prepare chunks on ``threads - 1`` helper threads; execute them here, in order.

    With ``threads == 1`` everything runs in the calling thread. Otherwise at
    most ``threads`` chunks are prepared ahead of the one being executed, which
    bounds memory for streamed input.
    """
    if threads <= 1:
        return [execute(prepare(chunk)) for chunk in chunks]
    results: list[R] = []
    pending: deque[Future[P]] = deque()
    with ThreadPoolExecutor(
        max_workers=threads - 1, thread_name_prefix="winidjango-prepare"
    ) as pool:
        try:
            for chunk in chunks:
                pending.append(pool.submit(prepare, chunk))
                if len(pending) >= threads:
                    results.append(execute(pending.popleft().result()))
            while pending:
                results.append(execute(pending.popleft().result()))
        finally:
            # On error, drop queued work so the pool shuts down promptly.
            for future in pending:
                future.cancel()
    return results


def run_chunkwise[C, P, R](
    chunks: Iterator[C],
    prepare: Callable[[C], P],
    execute: Callable[[P], R],
    using: str,
) -> list[R]:
    """Run each chunk in its own atomic block in this thread; report partial failure."""
    results: list[R] = []
    try:
        for chunk in chunks:
            with transaction.atomic(using=using):
                results.append(execute(prepare(chunk)))
    except Exception as error:
        raise BulkPartialFailureError(
            list(range(len(results))), {len(results): error}
        ) from error
    return results


def run_parallel[C, R](
    chunks: Iterator[C],
    work: Callable[[C], R],
    using: str,
    threads: int,
) -> list[R]:
    """Run whole chunks on ``threads`` worker threads, each on its own connection.

    Every chunk is one transaction on its worker's connection. After the first
    failure no new chunk starts; chunks already running finish. Each worker
    closes its connection before it ends, so nothing leaks.
    """
    work_queue: Queue[tuple[int, C] | None] = Queue(maxsize=threads)
    results: dict[int, R] = {}
    failures: dict[int, BaseException] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def worker() -> None:
        try:
            while (item := work_queue.get()) is not None:
                index, chunk = item
                if stop.is_set():
                    continue
                try:
                    with transaction.atomic(using=using):
                        result = work(chunk)
                except Exception as error:
                    with lock:
                        failures[index] = error
                    stop.set()
                else:
                    with lock:
                        results[index] = result
        finally:
            connections[using].close()

    workers = [
        threading.Thread(target=worker, name=f"winidjango-write-{number}")
        for number in range(threads)
    ]
    for thread in workers:
        thread.start()
    submitted = 0
    try:
        for chunk in chunks:
            if stop.is_set():
                break
            work_queue.put((submitted, chunk))
            submitted += 1
    except Exception as error:
        stop.set()
        with lock:
            failures[submitted] = error
    finally:
        for _ in workers:
            work_queue.put(None)
        for thread in workers:
            thread.join()
    if failures:
        first_error = failures[min(failures)]
        raise BulkPartialFailureError(list(results), failures) from first_error
    return [results[index] for index in sorted(results)]
