"""The disk cache of downloaded media: one folder, one in-memory index, one record per file.

ImageService keeps product photos here, StickerService the .tgs files and their rendered
posters: one cache, one index, one byte budget, one expiry sweep, one /cache_clear. (Two
caches in one folder, one of them outside the index, were neither evicted nor counted.)

Layout of the folder (nothing else in it is touched, so an operator's stray file survives
``clear()``)::

    <key><ext>        a body; its mtime is when its origin last vouched for it (fresh while
                      mtime + TTL > now)
    <key>.meta        its record, JSON: name, size and sha256 of the body, the URL, and the
                      origin's ETag / Last-Modified when it gave them
    .tmp-<key>-<rnd>  a write in progress (infra.files.AtomicFile), renamed over <key><ext>

``key`` is 32 hex characters: the md5 of whatever the owner keys by (an image URL, a sticker
URL, a poster's render parameters). Not a security boundary, just a short file name.

Integrity. A file cut short or zeroed by a crash or a power cut, or changed behind our back,
must never be uploaded. The body is written without fsync (a flush per download would stall
the event loop or a worker for milliseconds, for a file the cache can always fetch again);
instead every body has its record, and a body is served only while it matches it:
    * the first time a process serves a file (and whenever its size or mtime changed), it is
      read once in a worker thread and its size and sha256 compared with the record; a file
      without a matching record is removed and fetched again;
    * every later hit compares the size the ``os.stat`` it already does returns: no read.
A crash can only tear files written before it, and every process starts by checking each
file it serves, so a torn file is never served.

Threading model: the index lives on the event loop thread and is only mutated there. The
blocking helpers at module level run in the loop's default executor; they return plain
values the loop applies to the index. The one exception is the hit path (:meth:`DiskCache.
lookup`), which stats the file on the loop on purpose (a few microseconds, where a thread hop
costs ~100 us: see bot/media/images.py for the figures).

Recency for LRU eviction is tracked here in memory (an OrderedDict in use order, seeded from
mtimes at start-up), not from atime: atime is not updated on noatime/relatime mounts.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import hashlib
import json
import logging
import os
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

from infra.files import TEMP_PREFIX, AtomicFile, atomic_write

log = logging.getLogger(__name__)

T = TypeVar("T")

META_SUFFIX = ".meta"
# Leftover temporary files older than this at start-up are from a crashed process.
STALE_TEMP_AGE = 3600.0
# Body bytes buffered before one executor write: a typical product photo fits in one. Also
# the most IMAGE_WRITE_INLINE_MAX_BYTES can be: a body that grows past it while arriving is
# already on its way to the thread pool.
FLUSH_BYTES = 256 * 1024
_HEX = frozenset("0123456789abcdef")

# Magic numbers of the formats Telegram accepts as photos (and GIF for animations).
MAGIC_BYTES_NEEDED = 12


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


def cache_key(text: str) -> str:
    """The file name stem for ``text``: its md5 in hex."""
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def is_stem(name: str) -> bool:
    return len(name) == 32 and set(name) <= _HEX


def no_space(exc: OSError) -> bool:
    return exc.errno in (errno.ENOSPC, errno.EDQUOT)


@dataclass
class Entry:
    """One cached body as the index knows it."""

    name: str  # file name inside the cache folder
    size: int
    mtime: float
    sha256: str | None = None  # from the record, once checked
    # The body was checked against its record at this (size, mtime_ns); any change means
    # someone else wrote the file, and it is checked again before it is served.
    verified_sig: tuple[int, int] | None = None


@dataclass(frozen=True)
class Body:
    """A body ready to use: the cached file (``path``), or only ``data`` when the folder
    would not take it. ``checked_at`` is when its origin last vouched for these bytes (the
    file's mtime; the download time for bytes in memory)."""

    sha256: str
    checked_at: float
    fresh: bool = True
    path: Path | None = None
    data: bytes | None = None


@dataclass
class CacheIndex:
    """In-memory view of the folder, in least- to most-recently-used order."""

    root: Path
    entries: OrderedDict[str, Entry] = field(default_factory=OrderedDict)
    total_bytes: int = 0

    def put(self, key: str, entry: Entry) -> str | None:
        """Add or replace; returns the name of a previous file with another extension."""
        old = self.entries.pop(key, None)
        if old is not None:
            self.total_bytes -= old.size
        self.entries[key] = entry
        self.total_bytes += entry.size
        return old.name if old is not None and old.name != entry.name else None

    def drop(self, key: str) -> Entry | None:
        old = self.entries.pop(key, None)
        if old is not None:
            self.total_bytes -= old.size
        return old

    def touch(self, key: str) -> None:
        if key in self.entries:
            self.entries.move_to_end(key)

    def lru_victims(self, budget: int, keep: Callable[[str], bool]) -> list[Entry]:
        """Drop least recently used entries until the total fits ``budget``."""
        victims: list[Entry] = []
        for key in list(self.entries):
            if self.total_bytes <= budget:
                break
            if keep(key):
                continue
            victims.append(self.entries.pop(key))
            self.total_bytes -= victims[-1].size
        return victims

    def expired(self, older_than: float, keep: Callable[[str], bool]) -> list[Entry]:
        """Drop entries whose mtime is before ``older_than``."""
        gone = [k for k, e in self.entries.items() if e.mtime < older_than and not keep(k)]
        return [e for k in gone if (e := self.drop(k)) is not None]

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
    without a disk cache). Records are not read here: each body is checked against its
    record the first time it is served (:func:`check`).
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
                # Two extensions for one key (its Content-Type changed): keep the newer.
                loser = entry if other.mtime >= entry.mtime else other
                with contextlib.suppress(OSError):
                    (root / loser.name).unlink()
                if loser is other:
                    found[stem] = entry
                continue
            found[stem] = entry
    ordered = sorted(found.items(), key=lambda kv: kv[1].mtime)
    return ScanResult(ordered, removed)


def read_record(root: Path, key: str) -> dict[str, Any]:
    try:
        data = json.loads((root / (key + META_SUFFIX)).read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_record(root: Path, key: str, record: dict[str, Any]) -> None:
    # No fsync, like the body: a torn record matches no body, so the pair is refused.
    atomic_write(root / (key + META_SUFFIX), json.dumps(record).encode(), tag=key, fsync=False)


@dataclass(frozen=True)
class Checked:
    stat: os.stat_result
    sha256: str


def check(root: Path, key: str, name: str) -> Checked | None:
    """Read the body once and compare it with its record; None when they do not match."""
    record = read_record(root, key)
    if record.get("name") != name or not isinstance(record.get("sha256"), str):
        return None
    try:
        with (root / name).open("rb") as f:
            st = os.fstat(f.fileno())
            if st.st_size != record.get("size"):
                return None
            digest = hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:
        return None
    return Checked(st, digest) if digest == record["sha256"] else None


def unlink_many(root: Path, names: list[str], records: bool = True) -> tuple[int, int]:
    """Remove files (and their records); returns (bodies removed, bytes freed)."""
    files = freed = 0
    for name in names:
        key = name.partition(".")[0]
        targets = [root / name]
        if records:
            targets.append(root / (key + META_SUFFIX))
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


def refresh(root: Path, key: str, name: str, validators: dict[str, Any] | None) -> os.stat_result:
    """After a 304: the body is fresh again; new validators replace the old ones."""
    path = root / name
    os.utime(path)
    if validators:
        record = read_record(root, key)
        if record.get("name") == name:
            write_record(root, key, {**record, **validators})
    return path.stat()


# ---- the cache -------------------------------------------------------------------------


class _Unchecked:
    """:meth:`DiskCache._peek` found a body it has not checked against its record yet."""


_UNCHECKED: Final = _Unchecked()


class DiskCache:
    """The folder, its index and its byte budget. Bodies go in through :meth:`writer` (a
    download, streamed) or :meth:`put` (bytes in hand) and come out through :meth:`lookup`."""

    def __init__(
        self,
        root: Path,
        *,
        ttl: float,
        stale_ttl: float,
        max_bytes: int,
        inline_max: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = root
        self.ttl = ttl
        self.stale_ttl = stale_ttl
        self.max_bytes = max_bytes
        # A body up to this size is committed on the loop in one go (see images.py).
        self.inline_max = inline_max
        self.clock = clock
        self.index = CacheIndex(root)
        self.ok = False  # the folder exists and could be listed
        self.counters: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self._active_temps: set[str] = set()
        # Keys some task is fetching right now: the sweep and eviction leave them alone.
        self._pinned: Counter[str] = Counter()

    # ---- lifecycle -----------------------------------------------------------------------

    async def open(self) -> None:
        """Scan the folder (again); on failure the cache is off and bodies stay in memory."""
        try:
            result = await self._run(scan, self.root)
        except OSError as exc:
            # Deliver images anyway (from memory); say loudly why nothing is cached.
            self.ok = False
            self.errors["cache_unwritable"] += 1
            log.error(  # noqa: TRY400 - the reason fits one line; no traceback needed
                "cache folder %s unusable, running without a disk cache: %s", self.root, exc
            )
            return
        self.index.clear()
        for key, entry in result.entries:
            self.index.put(key, entry)
        self.ok = True
        log.info(
            "disk cache %s: %d files, %d bytes (%d crash leftovers removed)",
            self.root,
            len(self.index.entries),
            self.index.total_bytes,
            result.removed_temps,
        )

    @contextlib.contextmanager
    def pinned(self, key: str) -> Iterator[None]:
        """Keep ``key`` out of the sweep and eviction while it is being fetched."""
        self._pinned[key] += 1
        try:
            yield
        finally:
            self._pinned[key] -= 1
            if not self._pinned[key]:
                del self._pinned[key]

    def _busy(self, key: str) -> bool:
        return key in self._pinned

    # ---- reading ---------------------------------------------------------------------------

    def fresh(self, checked_at: float) -> bool:
        return checked_at + self.ttl > self.clock()

    async def lookup(self, key: str) -> Body | None:
        """The cached body of ``key`` (fresh or stale), or None. A body that does not match
        its record is removed here and is None."""
        found = self._peek(key)
        if not isinstance(found, _Unchecked):
            return found
        entry = self.index.entries[key]
        checked = await self._run(check, self.root, key, entry.name)
        if self.index.entries.get(key) is not entry:
            return self._peek_checked(key)  # replaced or dropped while we read it
        if checked is None:
            self._drop_corrupt(key, entry)
            return None
        st = checked.stat
        self.index.put(
            key,
            Entry(entry.name, st.st_size, st.st_mtime, checked.sha256, _sig(st)),
        )
        return self._peek_checked(key)

    def _peek_checked(self, key: str) -> Body | None:
        found = self._peek(key)
        return None if isinstance(found, _Unchecked) else found

    def _peek(self, key: str) -> Body | _Unchecked | None:
        """The hit path, on the loop: an index lookup and one stat, no read."""
        entry = self.index.entries.get(key)
        if entry is None:
            return None
        path = self.root / entry.name
        try:
            st = os.stat(path)  # noqa: PTH116 - the cheapest stat; this is the hot path
        except OSError:
            self.index.drop(key)
            return None
        if entry.verified_sig != _sig(st) or entry.sha256 is None:
            # First sight since start-up, or changed size or mtime: check it against its
            # record once (in a thread) before serving it.
            return _UNCHECKED
        # A use, fresh or not: a stale body is served when its origin fails, and a poster
        # whatever its age, so each is as recently used as a fresh hit.
        self.index.touch(key)
        return Body(entry.sha256, st.st_mtime, self.fresh(st.st_mtime), path=path)

    def _drop_corrupt(self, key: str, entry: Entry) -> None:
        self.index.drop(key)
        self.errors["corrupt_cache"] += 1
        log.warning("cache file %s does not match its record: removed, fetched again", entry.name)
        # Two unlinks on a rare path; not worth a hop. (A body written meanwhile would have
        # replaced the index entry, and lookup() would not have come here.)
        for name in (entry.name, key + META_SUFFIX):
            with contextlib.suppress(OSError):
                (self.root / name).unlink()

    async def read_record(self, key: str) -> dict[str, Any]:
        return await self._run(read_record, self.root, key)

    # ---- writing ---------------------------------------------------------------------------

    def writer(self, key: str) -> CacheWriter:
        return CacheWriter(self, key)

    async def put(self, key: str, name: str, data: bytes, extra: dict[str, Any]) -> Body:
        """Store ``data`` as ``name``; the Body has no path when the folder refused it."""
        writer = self.writer(key)
        try:
            await writer.feed(data)
            return await writer.finish(name, extra)
        except BaseException:
            await writer.abandon()
            raise

    async def refresh(self, key: str, validators: dict[str, Any] | None) -> Body | None:
        """The origin said 304: the cached body is fresh again. None when it vanished."""
        entry = self.index.entries.get(key)
        if entry is None or entry.sha256 is None:
            return None
        try:
            st = await self._run(refresh, self.root, key, entry.name, validators)
        except FileNotFoundError:
            self.index.drop(key)
            return None
        except OSError as exc:
            # Cannot touch the file (read-only folder): it is still the right body.
            self.errors["cache_unwritable"] += 1
            log.warning("could not refresh %s after 304: %s", entry.name, exc)
            return Body(entry.sha256, self.clock(), path=self.root / entry.name)
        # Only the mtime changed, and we changed it: still the body we checked.
        self.index.put(key, Entry(entry.name, st.st_size, st.st_mtime, entry.sha256, _sig(st)))
        return Body(entry.sha256, st.st_mtime, path=self.root / entry.name)

    async def _stored(self, key: str, name: str, st: os.stat_result, sha256: str) -> None:
        """A new body is in place: index it, drop an old name, keep the byte budget."""
        previous = self.index.put(key, Entry(name, st.st_size, st.st_mtime, sha256, _sig(st)))
        if previous is not None:
            await self._run(unlink_many, self.root, [previous], False)
        if self.index.total_bytes > self.max_bytes:
            await self.enforce_budget(keep=key)

    async def _write_failed(self, exc: OSError) -> None:
        """The folder refused a write: go on without caching this body."""
        self.counters["not_cached"] += 1
        if no_space(exc):
            self.errors["disk_full"] += 1
            # Free a tenth of what we hold so the next downloads fit again.
            target = int(self.index.total_bytes * 0.9)
            freed = await self.enforce_budget(budget=target)
            log.warning("disk full writing the cache; evicted %d files", freed)
        else:
            self.errors["cache_unwritable"] += 1
            log.warning("cache not writable (%s); serving from memory", exc)
            if exc.errno == errno.ENOENT:
                # The folder itself was removed under us (an operator's rm -rf): recreate it
                # and rescan so the next downloads are cached again.
                await self.open()

    # ---- housekeeping ----------------------------------------------------------------------

    async def enforce_budget(self, keep: str | None = None, budget: int | None = None) -> int:
        limit = self.max_bytes if budget is None else budget
        victims = self.index.lru_victims(limit, lambda k: k == keep or self._busy(k))
        if victims:
            await self._run(unlink_many, self.root, [e.name for e in victims])
            self.counters["evicted"] += len(victims)
            log.info("evicted %d least recently used files", len(victims))
        return len(victims)

    async def sweep(self) -> tuple[int, int]:
        """Remove expired files and enforce the byte budget; (expired, evicted) files."""
        if not self.ok:
            await self.open()  # the folder may have become usable again
            if not self.ok:
                return 0, 0
        horizon = self.clock() - self.ttl - self.stale_ttl
        expired = self.index.expired(horizon, self._busy)
        evicted = await self.enforce_budget()
        if expired:
            await self._run(unlink_many, self.root, [e.name for e in expired])
            self.counters["expired_removed"] += len(expired)
        return len(expired), evicted

    async def clear(self) -> tuple[int, int]:
        """Remove every body and record (writes in flight finish normally)."""
        self.index.clear()
        files, freed = await self._run(clear_folder, self.root, set(self._active_temps))
        self.counters["cleared_files"] += files
        log.info("disk cache cleared: %d files, %d bytes", files, freed)
        return files, freed

    def stats(self) -> dict[str, Any]:
        c = self.counters
        return {
            "evicted": c["evicted"],
            "expired_removed": c["expired_removed"],
            "not_cached": c["not_cached"],
            "files": len(self.index.entries),
            "bytes": self.index.total_bytes,
            "max_bytes": self.max_bytes,
            "cache_enabled": self.ok,
        }

    async def _run(self, func: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            None, functools.partial(func, *args)
        )


def _sig(st: os.stat_result) -> tuple[int, int]:
    return st.st_size, st.st_mtime_ns


class CacheWriter:
    """One body on its way into the cache: a temp file written in executor batches, hashed
    as it arrives; or memory, when the folder cannot take it (disk full, read-only, gone)."""

    def __init__(self, cache: DiskCache, key: str) -> None:
        self.cache = cache
        self.key = key
        self.file: AtomicFile | None = None
        if cache.ok:
            # fsync off: the record check stands in for it (see the module docstring).
            self.file = AtomicFile(cache.root / key, tag=key, fsync=False)
            cache._active_temps.add(self.file.name)
        self.buf: list[bytes] = []
        self.buffered = 0
        self.memory: list[bytes] | None = None if self.file is not None else []
        self.hash = hashlib.sha256()
        self.size = 0

    async def feed(self, chunk: bytes) -> None:
        self.hash.update(chunk)
        self.size += len(chunk)
        if self.memory is not None:
            self.memory.append(chunk)
            return
        self.buf.append(chunk)
        self.buffered += len(chunk)
        if self.buffered > FLUSH_BYTES:
            # Past it, not at it: a body of exactly FLUSH_BYTES (the most inline_max can be)
            # is still whole in the buffer when finish() decides where to write it.
            await self._flush()

    async def _flush(self) -> None:
        assert self.file is not None  # noqa: S101 - feed() buffers only for a file
        data = b"".join(self.buf)
        try:
            await self.cache._run(self.file.write, data)
        except OSError as exc:
            await self._spill(exc)
            return
        self.buf.clear()
        self.buffered = 0

    async def _spill(self, exc: OSError) -> None:
        """Go on in memory: what reached the disk is read back, the temp file removed."""
        file, self.file = self.file, None
        assert file is not None  # noqa: S101
        try:
            prefix = await self.cache._run(file.read_back)
        except OSError as again:
            # What was written cannot be read back (an I/O error): this attempt is lost.
            await self._forget(file)
            self.cache.errors["cache_io"] += 1
            raise CacheIOError(f"cache folder failed mid-write ({again})") from exc
        await self._forget(file)
        self.memory = [prefix, *self.buf]
        self.buf = []
        await self.cache._write_failed(exc)

    async def _forget(self, file: AtomicFile) -> None:
        await self.cache._run(file.discard)
        self.cache._active_temps.discard(file.name)

    def _commit(self, name: str, record: dict[str, Any]) -> os.stat_result:
        """Blocking: the buffered tail, the rename, then the record."""
        assert self.file is not None  # noqa: S101
        self.file.write(b"".join(self.buf))
        # On disk now: a failure below reads everything back, the tail included.
        self.buf.clear()
        st = self.file.commit(self.cache.root / name)
        try:
            write_record(self.cache.root, self.key, record)
        except OSError as exc:
            # The body is in place and this process knows its hash; without a record the
            # next process refuses it and fetches it again, which is all it costs.
            log.warning("could not write the record of %s: %s", name, exc)
        return st

    async def finish(self, name: str, extra: dict[str, Any]) -> Body:
        """Move the body into place as ``name`` with its record (``extra`` added to it)."""
        sha256 = self.hash.hexdigest()
        if self.file is not None:
            file = self.file
            record = {**extra, "name": name, "size": self.size, "sha256": sha256}
            try:
                if file.written == 0 and self.size <= self.cache.inline_max:
                    # The whole body is in the buffer: one page-cache write on the loop
                    # (see images.py for why that is the cheaper path).
                    st = self._commit(name, record)
                else:
                    st = await self.cache._run(self._commit, name, record)
            except OSError as exc:
                await self._spill(exc)
            else:
                self.cache._active_temps.discard(file.name)
                self.file = None
                await self.cache._stored(self.key, name, st, sha256)
                return Body(sha256, st.st_mtime, path=self.cache.root / name)
        assert self.memory is not None  # noqa: S101 - no file means memory
        return Body(sha256, self.cache.clock(), data=b"".join(self.memory))

    async def abandon(self) -> None:
        if self.file is not None:
            file, self.file = self.file, None
            await self._forget(file)


class CacheIOError(OSError):
    """The cache folder failed in the middle of a write and the bytes could not be read
    back: the fetch fails (and is retried or served stale by its owner)."""
