"""The collector's write-ahead log: accepted messages reach disk before the 200.

Requests hand their record to one writer thread and wait. The writer takes every record that has
arrived (waiting up to ``window`` seconds for company after the first), writes them with one
``write`` and makes them durable with one ``fdatasync`` (*group commit*), then wakes all of their
requests at once: under load one fsync serves hundreds of requests. A failed write or sync fails
every request of the group (the server answers 503, so the senders retry) and the segment is
closed, so nothing is ever appended after a torn record.

On disk (``WORKSPACE/collector/wal/``) the log is a sequence of numbered *segment* files of
frames ``[length u32][crc32 u32][payload]``. The loader asks for the segments to be sealed
(:meth:`WriteAheadLog.seal`: the active segment is closed and later records go to a new one),
stores them, and only then deletes them. Reading stops at the first incomplete or corrupt frame:
that can only be a write that was never acknowledged (a crash or a failed write mid-group).

Example:
    >>> import tempfile
    >>> wal = WriteAheadLog(Path(tempfile.mkdtemp()))
    >>> wal.append_sync(b"hello")
    >>> [list(read_segment(p)) for p in wal.seal()]
    [[b'hello']]
    >>> wal.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import queue
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

__all__ = ["Overloaded", "WriteAheadLog", "read_segment"]

_FRAME = struct.Struct("<II")
_SUFFIX = ".wal"


class Overloaded(Exception):
    """More records are waiting for the disk than the log accepts; the sender should retry."""


def write_all(fd: int, data: bytes) -> None:
    """``os.write`` until all of ``data`` is written (the seam tests use to simulate a full disk)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def sync(fd: int) -> None:
    """Make the written data durable (``fdatasync`` where the system has it)."""
    (getattr(os, "fdatasync", None) or os.fsync)(fd)


def read_segment(path: Path) -> Iterator[bytes]:
    """The payloads of the complete, intact frames of a segment, in order."""
    data = path.read_bytes()
    at = 0
    while at + _FRAME.size <= len(data):
        length, crc = _FRAME.unpack_from(data, at)
        payload = data[at + _FRAME.size : at + _FRAME.size + length]
        if len(payload) < length or zlib.crc32(payload) != crc:
            return
        yield payload
        at += _FRAME.size + length


class WriteAheadLog:
    """An append-only, group-committed log in ``folder``; see the module docstring."""

    def __init__(
        self, folder: Path, *, window: float = 0.002, max_pending: int = 20_000, segment_bytes: int = 64 << 20
    ) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.window, self.max_pending, self.segment_bytes = window, max_pending, segment_bytes
        self._queue: queue.SimpleQueue[tuple[bytes, Future[None]] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()  # the active segment: held while a group is written
        self._fd: int | None = None
        self._size = 0
        numbers = [int(p.stem) for p in folder.glob("*" + _SUFFIX) if p.stem.isdigit()]
        self._next = max(numbers, default=0) + 1  # segments left by an earlier process are sealed
        self._thread: threading.Thread | None = None
        self.groups = 0
        """Group commits so far (one fsync each)."""

    # -- appending ---------------------------------------------------------------------------

    def submit(self, payload: bytes) -> Future[None]:
        """Queue ``payload``; the future completes once it is durable (or fails with OSError)."""
        waiting = self._queue.qsize()
        if waiting >= self.max_pending:
            raise Overloaded(f"{waiting} records are waiting for the disk")
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="journeylens-wal", daemon=True)
                    self._thread.start()
        done: Future[None] = Future()
        self._queue.put((payload, done))
        return done

    async def append(self, payload: bytes) -> None:
        """Append ``payload`` and return once it is on disk."""
        await asyncio.wrap_future(self.submit(payload))

    def append_sync(self, payload: bytes) -> None:
        self.submit(payload).result()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            deadline = time.monotonic() + self.window
            while (left := deadline - time.monotonic()) > 0:
                try:
                    item = self._queue.get(timeout=left)
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # finish this group, then stop
                    break
                group.append(item)
            self._commit(group)

    def _commit(self, group: list[tuple[bytes, Future[None]]]) -> None:
        data = b"".join(_FRAME.pack(len(p), zlib.crc32(p)) + p for p, _ in group)
        error: OSError | None = None
        with self._lock:
            try:
                fd = self._active()
                write_all(fd, data)
                sync(fd)
                self._size += len(data)
                if self._size >= self.segment_bytes:
                    self._close_active()
            except Exception as exc:  # the disk (OSError) or anything else: this group is not durable
                error = exc if isinstance(exc, OSError) else OSError(errno.EIO, f"log write failed: {exc!r}")
                self._close_active()  # nothing may follow a torn frame in a segment
        self.groups += 1
        for _, done in group:
            # A request whose client went away has cancelled its future; the record stays written.
            if not done.set_running_or_notify_cancel():
                continue
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)

    def _active(self) -> int:
        if self._fd is None:
            path = self.folder / f"{self._next:012d}{_SUFFIX}"
            self._next += 1
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._size = 0
            dir_fd = os.open(self.folder, os.O_RDONLY)
            try:  # the new file's name must survive a crash too
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        return self._fd

    def _close_active(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    # -- for the loader ---------------------------------------------------------------------

    def seal(self) -> list[Path]:
        """Close the active segment (when it holds anything) and list every sealed segment, oldest
        first; records appended from now on go to a new segment."""
        with self._lock:
            if self._fd is not None and self._size > 0:
                self._close_active()
            active = self._next - 1 if self._fd is not None else None
            # Segments opened from now on are numbered from here: the writer may open one before
            # the folder is listed below, and a segment still being appended to must never be
            # handed to the loader (which deletes what it stored: later appends would be lost).
            sealed_below = self._next
        paths = sorted(p for p in self.folder.glob("*" + _SUFFIX) if p.stem.isdigit())
        return [p for p in paths if int(p.stem) < sealed_below and int(p.stem) != active]

    def backlog(self) -> int:
        """Bytes in the log not yet moved to the store."""
        return sum(p.stat().st_size for p in self.folder.glob("*" + _SUFFIX))

    def close(self) -> None:
        """Finish the queued groups and stop the writer; a later append starts a new one (an app
        whose lifespan ran twice, as test clients do)."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=30)
        with self._lock:
            self._close_active()
