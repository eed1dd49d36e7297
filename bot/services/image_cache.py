"""The disk side of the image cache: file naming, the in-memory LRU index, atomic writes.

Layout of the cache folder (nothing else in it is touched, so an operator's stray file
survives ``clear()``)::

    <md5(url)><ext>       the image; its mtime is its freshness (fresh while mtime + TTL > now)
    <md5(url)>.meta       JSON sidecar with the origin's ETag / Last-Modified, only when it gave one
    .tmp-<md5>-<random>   a download in progress; moved over the final name with os.replace()

Threading model: the index (``CacheIndex``) lives on the event loop thread and is only ever
mutated there. The functions at module level below do the blocking file work and are run in
the loop's default executor by ImageService; they return plain values that the loop then
applies to the index. The one exception is the cache-hit path (``CacheIndex.probe``), which
stats the file on the loop on purpose: see ImageService's module docstring for the figures.

Recency for LRU eviction is tracked here in memory (an OrderedDict in use order, seeded
from mtimes at start-up), not from atime: atime is not updated on noatime/relatime mounts.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TEMP_PREFIX = ".tmp-"
META_SUFFIX = ".meta"
# Leftover temporary files older than this at start-up are from a crashed process.
STALE_TEMP_AGE = 3600.0
_HEX = frozenset("0123456789abcdef")

# Magic numbers of the formats Telegram accepts as photos (and GIF for animations).
_MAGIC_LEN = 12


def sniff(head: bytes) -> str | None:
    """The image type of the first bytes of a file, or None when it is not one we accept."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


MAGIC_BYTES_NEEDED = _MAGIC_LEN


def is_stem(name: str) -> bool:
    return len(name) == 32 and set(name) <= _HEX


def no_space(exc: OSError) -> bool:
    return exc.errno in (errno.ENOSPC, errno.EDQUOT)


@dataclass
class Entry:
    """One cached image as the index knows it."""

    name: str  # file name inside the cache folder
    size: int
    mtime: float
    # The magic was checked against this (size, mtime_ns); a change means someone else wrote
    # the file and it is checked again before being served.
    verified_sig: tuple[int, int] | None = None


@dataclass
class CacheIndex:
    """In-memory view of the folder, in least- to most-recently-used order."""

    root: Path
    entries: OrderedDict[str, Entry] = field(default_factory=OrderedDict)
    total_bytes: int = 0

    def path(self, stem: str) -> Path | None:
        e = self.entries.get(stem)
        return None if e is None else self.root / e.name

    def put(self, stem: str, entry: Entry) -> str | None:
        """Add or replace; returns the name of a previous file with another extension."""
        old = self.entries.pop(stem, None)
        if old is not None:
            self.total_bytes -= old.size
        self.entries[stem] = entry
        self.total_bytes += entry.size
        return old.name if old is not None and old.name != entry.name else None

    def drop(self, stem: str) -> Entry | None:
        old = self.entries.pop(stem, None)
        if old is not None:
            self.total_bytes -= old.size
        return old

    def touch(self, stem: str) -> None:
        if stem in self.entries:
            self.entries.move_to_end(stem)

    def lru_victims(self, budget: int, keep: str | None = None) -> list[Entry]:
        """Drop least recently used entries until the total fits ``budget``."""
        victims: list[Entry] = []
        for stem in list(self.entries):
            if self.total_bytes <= budget:
                break
            if stem == keep:
                continue
            victims.append(self.entries.pop(stem))
            self.total_bytes -= victims[-1].size
        return victims

    def expired(self, older_than: float) -> list[Entry]:
        """Drop entries whose mtime is before ``older_than``."""
        gone = [stem for stem, e in self.entries.items() if e.mtime < older_than]
        return [e for stem in gone if (e := self.drop(stem)) is not None]

    def clear(self) -> None:
        self.entries.clear()
        self.total_bytes = 0


# ---- blocking helpers, run in the executor ------------------------------------------------


@dataclass
class ScanResult:
    entries: list[tuple[str, Entry]]  # oldest mtime first: the LRU seed
    removed_temps: int


def scan(root: Path) -> ScanResult:
    """Create the folder if needed and list our files; drop crash leftovers.

    Raises OSError when the folder cannot be created or listed (the caller then runs
    without a disk cache).
    """
    root.mkdir(parents=True, exist_ok=True)
    now = time.time()
    found: dict[str, Entry] = {}
    removed = 0
    with os.scandir(root) as it:
        for d in it:
            if not d.is_file(follow_symlinks=False):
                continue
            try:
                st = d.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if d.name.startswith(TEMP_PREFIX):
                if now - st.st_mtime > STALE_TEMP_AGE:
                    with contextlib.suppress(OSError):
                        Path(d.path).unlink()
                        removed += 1
                continue
            stem, dot, ext = d.name.partition(".")
            if not is_stem(stem) or not dot or "." + ext == META_SUFFIX:
                continue
            entry = Entry(d.name, st.st_size, st.st_mtime)
            other = found.get(stem)
            if other is not None:
                # Two extensions for one URL (its Content-Type changed): keep the newer.
                loser = entry if other.mtime >= entry.mtime else other
                with contextlib.suppress(OSError):
                    (root / loser.name).unlink()
                if loser is other:
                    found[stem] = entry
                continue
            found[stem] = entry
    ordered = sorted(found.items(), key=lambda kv: kv[1].mtime)
    return ScanResult(ordered, removed)


def read_head(path: Path, n: int = MAGIC_BYTES_NEEDED) -> bytes:
    with path.open("rb") as f:
        return f.read(n)


def unlink_many(root: Path, names: list[str], sidecars: bool = True) -> tuple[int, int]:
    """Remove files (and their sidecars); returns (images removed, bytes freed)."""
    files = freed = 0
    for name in names:
        stem = name.partition(".")[0]
        targets = [root / name]
        if sidecars:
            targets.append(root / (stem + META_SUFFIX))
        for target in targets:
            try:
                size = target.stat().st_size
                target.unlink()
            except FileNotFoundError:
                continue
            freed += size
            if target.suffix != META_SUFFIX:
                files += 1
    return files, freed


def clear_folder(root: Path, keep: set[str]) -> tuple[int, int]:
    """Remove every file of ours in ``root`` except the temp files in ``keep``."""
    files = freed = 0
    try:
        it = os.scandir(root)
    except FileNotFoundError:
        return 0, 0
    with it:
        for d in it:
            if not d.is_file(follow_symlinks=False) or d.name in keep:
                continue
            stem = d.name.partition(".")[0]
            ours = d.name.startswith(TEMP_PREFIX) or is_stem(stem)
            if not ours:
                continue
            try:
                size = d.stat(follow_symlinks=False).st_size
                Path(d.path).unlink()
            except FileNotFoundError:
                continue
            freed += size
            if is_stem(stem) and not d.name.endswith(META_SUFFIX):
                files += 1
    return files, freed


def read_meta(root: Path, stem: str) -> dict[str, Any]:
    try:
        data = json.loads((root / (stem + META_SUFFIX)).read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_atomic(root: Path, final: str, data: bytes) -> None:
    tmp = root / f"{TEMP_PREFIX}{secrets.token_hex(6)}"
    try:
        with tmp.open("xb") as f:
            f.write(data)
        tmp.replace(root / final)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


class TempFile:
    """A download in progress: created lazily, written in executor jobs, then moved into
    place with os.replace() so the final name never holds a half-written file."""

    def __init__(self, root: Path, stem: str) -> None:
        self.root = root
        self.stem = stem
        self.name = f"{TEMP_PREFIX}{stem}-{secrets.token_hex(4)}"
        self.path = root / self.name
        self._fd: int | None = None
        self.written = 0  # bytes known to be on disk

    def write(self, data: bytes) -> None:
        """Append ``data``; on OSError ``written`` still tells how much is safely on disk."""
        if self._fd is None:
            # 0o644 like any downloaded file; O_EXCL so two writers never share a temp file;
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
            # Part of ``data`` may be on disk; the caller still holds all of it, so only
            # the bytes before this call count (read_back must not duplicate any).
            self.written = start
            raise

    def read_back(self) -> bytes:
        """What is on disk so far (used to go on in memory after ENOSPC)."""
        if self._fd is None:
            return b""
        return os.pread(self._fd, self.written, 0)

    def commit(self, final_name: str, tail: bytes, meta: dict[str, Any] | None) -> os.stat_result:
        """Write the tail, move into place, write or drop the sidecar; the final stat.

        On failure the descriptor stays open and ``written`` counts only what preceded
        ``tail`` (which the caller still holds), so ``read_back()`` recovers the body even
        when the temp file's folder is gone.
        """
        before = self.written
        self.write(tail)
        final = self.root / final_name
        try:
            self.path.replace(final)
        except OSError:
            self.written = before
            raise
        self.close()
        meta_name = self.stem + META_SUFFIX
        # The image is in place now; a sidecar that cannot be written only costs a full
        # download instead of a 304 next time, so it must not fail the image.
        with contextlib.suppress(OSError):
            if meta:
                _write_atomic(self.root, meta_name, json.dumps(meta).encode())
            else:
                (self.root / meta_name).unlink()
        return final.stat()

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def discard(self) -> None:
        self.close()
        with contextlib.suppress(OSError):
            self.path.unlink()


def refresh_mtime(root: Path, name: str, meta: dict[str, Any] | None) -> os.stat_result:
    """After a 304: the file is fresh again; new validators replace the old ones."""
    path = root / name
    os.utime(path)
    if meta:
        _write_atomic(root, name.partition(".")[0] + META_SUFFIX, json.dumps(meta).encode())
    return path.stat()
