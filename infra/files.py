"""Atomic file writes: a reader sees the old file or the whole new one, never half of one.

The bytes go to a temp file in the target's own folder (same file system, so the rename is
atomic), are flushed to the disk with fsync, then renamed over the final name. Without the
fsync a crash or a power cut shortly after the rename can leave the final name pointing at a
file of zeros or cut short (ext4's delayed allocation; https://lwn.net/Articles/322823/).
Temp files start with ``TEMP_PREFIX`` so a folder's owner can remove crash leftovers.

Everything here blocks: call it from a worker thread (``asyncio.to_thread``) unless the file
is small and the disk local.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from types import TracebackType
from typing import Self

TEMP_PREFIX = ".tmp-"


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (its directory entry is what changed)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class AtomicFile:
    """A file being written in pieces, moved into place by :meth:`commit`.

    The temp file is created on the first write (O_EXCL: two writers never share one).
    ``written`` counts the bytes known to be on disk, so after an OSError (a full disk) the
    caller can :meth:`read_back` what got there and go on from memory. Used as a context
    manager, an exception before :meth:`commit` removes the temp file.
    """

    def __init__(self, final: Path, *, tag: str = "", fsync: bool = True) -> None:
        self.final = final
        self.folder = final.parent
        self.fsync = fsync
        suffix = f"{tag}-" if tag else ""
        self.name = f"{TEMP_PREFIX}{suffix}{secrets.token_hex(4)}"
        self.path = self.folder / self.name
        self.written = 0
        self._fd: int | None = None
        self.committed = False

    def write(self, data: bytes | memoryview) -> None:
        if self._fd is None:
            # O_RDWR so read_back() can recover the bytes after ENOSPC.
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        start = self.written
        view = memoryview(data)
        try:
            while view:
                n = os.write(self._fd, view)
                self.written += n
                view = view[n:]
        except OSError:
            # Part of ``data`` may be on disk, but the caller still holds all of it: only
            # the bytes before this call count, so read_back() duplicates nothing.
            self.written = start
            raise

    def read_back(self) -> bytes:
        """The bytes on disk so far (to go on in memory after a write failed)."""
        if self._fd is None:
            return b""
        return os.pread(self._fd, self.written, 0)

    def commit(self, final: Path | None = None) -> os.stat_result:
        """fsync, rename over the final name, and return the final file's stat.

        ``final`` names the file at the end instead, when the name is only known once the
        bytes are (a download whose type its first bytes decide); it must be in the same
        folder, or the rename would not be atomic.
        On failure the temp file stays (and open), so :meth:`read_back` still works; the
        caller then calls :meth:`discard`.
        """
        if final is not None:
            if final.parent != self.folder:
                raise ValueError(f"{final} is not in {self.folder}: the rename would not be atomic")
            self.final = final
        if self._fd is None:
            self.write(b"")  # an empty file is a file too
        assert self._fd is not None  # noqa: S101 - write() opened it
        if self.fsync:
            os.fsync(self._fd)
        stat = os.fstat(self._fd)
        self.path.replace(self.final)
        self.committed = True
        self.close()
        if self.fsync:
            _fsync_dir(self.folder)
        return stat

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def discard(self) -> None:
        """Close and remove the temp file (nothing happens to the final name)."""
        self.close()
        if not self.committed:
            with contextlib.suppress(OSError):
                self.path.unlink()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.discard()


def atomic_write(final: Path, data: bytes, *, tag: str = "", fsync: bool = True) -> os.stat_result:
    """Write ``data`` to ``final`` atomically (and durably with ``fsync``); its stat."""
    with AtomicFile(final, tag=tag, fsync=fsync) as f:
        f.write(data)
        return f.commit()
