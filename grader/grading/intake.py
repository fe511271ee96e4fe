"""One learner's submission (a folder, a .zip or a .tar.gz) turned into a clean folder of .py files.

Archives are untrusted: every member is checked before anything is written
(no absolute path, no ``..``, no link leading out of the tree, no special
file), sizes are capped both as declared and as actually decompressed, and
nothing is ever extracted through a link. A folder submission gets the same
checks. A nested single top folder (``alice.zip`` holding ``alice/mse.py``)
is unwrapped. Only the top-level ``.py`` files and Jupyter notebooks are graded
(and a top-level quiz answers file, for the quiz); other files are ignored and
listed. A notebook may also be handed in on its own (``alice.ipynb``).
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import os
import posixpath
import re
import stat
import tarfile
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from grader.settings import MAX_SOURCE_BYTES, MAX_SUBMISSION_BYTES, MAX_SUBMISSION_ENTRIES

MAX_TOTAL_BYTES = MAX_SUBMISSION_BYTES
MAX_FILES = MAX_SUBMISSION_ENTRIES                      #: entries (files, folders, links) one submission may hold
MAX_PY_BYTES = MAX_SOURCE_BYTES
ARCHIVE_KINDS = {".zip": "zip", ".tar.gz": "tar", ".tgz": "tar", ".tar": "tar"}
JUNK = {"__MACOSX", "__pycache__", ".DS_Store", "Thumbs.db"}
QUIZ_FILES = ("quiz_answers.json", "quiz_answers.toml", "quiz_answers.txt")   #: kept for the quiz, at the top
CHUNK = 64 * 1024
NOTEBOOK = ".ipynb"   #: a Jupyter notebook: graded from its code cells (grader.grading.notebook)
MAX_NAME_CHARS = 1024                #: a longer member name is refused
MAX_HEADER_READ = 1024 * 1024        #: no single header field (a tar long name, a pax record) is read if larger


class BadSubmission(Exception):
    """This submission cannot be graded; the message says why, for the learner's row."""


@dataclass(frozen=True)
class Entry:
    """One learner's submission in the SUBMISSIONS folder."""

    learner: str   #: the folder or archive name without its extension
    path: Path
    kind: str      #: "folder", "zip", "tar" or "notebook" (one .ipynb file)


@dataclass
class Prepared:
    """A submission ready to grade: its top-level .py files copied into `folder`."""

    folder: Path
    files: list[str]                                   #: the .py files that are graded, sorted (may be
                                                       #: empty only when there are quiz answers)
    content_hash: str                                  #: see content_hash()
    ignored: list[str] = field(default_factory=list)   #: other files, not graded
    quiz_folder: Path | None = None                    #: holds the quiz answers file, when there is one


@dataclass
class Discovery:
    entries: list[Entry]
    problems: list[tuple[str, str]]   #: (learner, reason): e.g. two submissions with one name
    ignored: list[str]                #: names in SUBMISSIONS that are neither folder nor archive


# --- finding the submissions ---------------------------------------------------------------


def archive_kind(name: str) -> tuple[str, str] | None:
    """(learner id, kind) when `name` is an archive we unpack, else None."""
    lower = name.lower()
    for suffix, kind in ARCHIVE_KINDS.items():
        if lower.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], kind
    return None


def discover(root: Path) -> Discovery:
    """Every learner's submission in `root`: one folder or one archive each."""
    found: dict[str, list[Entry]] = {}
    ignored = []
    for item in sorted(os.scandir(root), key=lambda e: e.name):
        if item.name.startswith(".") or item.name in JUNK:
            continue
        if item.is_symlink():
            ignored.append(f"{item.name} (a symbolic link: not followed)")
            continue
        if item.is_dir(follow_symlinks=False):
            entry = Entry(item.name, Path(item.path), "folder")
        else:
            named = archive_kind(item.name) if item.is_file(follow_symlinks=False) else None
            if named is None and item.is_file(follow_symlinks=False) and item.name.lower().endswith(NOTEBOOK) \
                    and len(item.name) > len(NOTEBOOK):
                named = item.name[: -len(NOTEBOOK)], "notebook"
            if named is None:
                ignored.append(f"{item.name} (not a folder, .zip, .tar.gz or .ipynb)")
                continue
            entry = Entry(named[0], Path(item.path), named[1])
        found.setdefault(entry.learner, []).append(entry)
    entries, problems = [], []
    for learner, candidates in found.items():
        if len(candidates) == 1:
            entries.append(candidates[0])
        else:
            names = ", ".join(e.path.name for e in candidates)
            problems.append((learner, f"more than one submission for this learner ({names}): keep one"))
    return Discovery(entries, problems, ignored)


# --- member names ------------------------------------------------------------------------------


def _member_path(name: str) -> str:
    """The archive member's path, relative and normalised; BadSubmission when it could escape."""
    if len(name) > MAX_NAME_CHARS:
        raise BadSubmission(f"an entry's name is longer than {MAX_NAME_CHARS} characters: refused")
    if "\x00" in name:
        raise BadSubmission(f"an entry's name holds a NUL byte ({name!r})")
    name = name.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise BadSubmission(f"an entry has an absolute path ({name!r}): refused")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise BadSubmission(f"an entry's path leads out of the archive ({name!r}): refused")
    return "/".join(parts)


def _check_link(name: str, target: str, hard: bool = False) -> None:
    """A link inside the tree is ignored (never followed); one leading out of it is refused."""
    target = target.replace("\\", "/")
    inside = posixpath.normpath(target if hard else posixpath.join(posixpath.dirname(name), target))
    if target.startswith("/") or re.match(r"^[A-Za-z]:", target) or inside == ".." or inside.startswith("../"):
        raise BadSubmission(f"{name!r} is a link to {target!r}, outside the submission: refused")


# --- unpacking ---------------------------------------------------------------------------------------


class _Budget:
    """Counts entries and bytes against the caps, declared and actual."""

    def __init__(self, max_bytes: int, max_files: int):
        self.max_bytes, self.max_files = max_bytes, max_files
        self.files = self.declared = self.written = 0

    def entry(self) -> None:
        self.files += 1
        if self.files > self.max_files:
            raise BadSubmission(f"more than {self.max_files} files or folders (an archive bomb?): refused")

    def declare(self, size: int) -> None:
        self.declared += max(0, int(size))
        if self.declared > self.max_bytes:
            raise BadSubmission(f"more than {self.max_bytes // 2**20} MB uncompressed (an archive bomb?): refused")

    def wrote(self, size: int) -> None:
        self.written += size
        if self.written > self.max_bytes:
            raise BadSubmission(f"more than {self.max_bytes // 2**20} MB once decompressed "
                                "(an archive bomb?): refused")


def _write(src, dest: Path, budget: _Budget) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as out:
        while chunk := src.read(CHUNK):
            budget.wrote(len(chunk))
            out.write(chunk)


def _zip_directory_fits(path: Path, budget: _Budget) -> None:
    """Read the zip's end record (at most 64 KB, as zipfile does) and check its entry count and the
    size of its central directory before zipfile parses (and allocates) a single entry."""
    with open(path, "rb") as f:
        end = zipfile._EndRecData(f)
    if end is None:
        raise BadSubmission("the archive is corrupt or not a zip archive (no end of central directory)")
    entries, size = end[zipfile._ECD_ENTRIES_TOTAL], end[zipfile._ECD_SIZE]
    if entries > budget.max_files:
        raise BadSubmission(f"more than {budget.max_files} files or folders (an archive bomb?): refused")
    if size > budget.max_files * (46 + MAX_NAME_CHARS + 1024) + 4096:
        raise BadSubmission("the archive's directory is far larger than its entries need: refused")


def _unzip(path: Path, dest: Path, budget: _Budget) -> None:
    if hasattr(zipfile, "_EndRecData"):
        _zip_directory_fits(path, budget)
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        for _ in infos:
            budget.entry()
        for info in infos:
            budget.declare(info.file_size)
        for info in infos:
            rel = _member_path(info.filename)
            mode = info.external_attr >> 16
            if info.create_system == 3 and stat.S_ISLNK(mode):
                with zf.open(info) as f:
                    _check_link(rel, f.read(4096).decode("utf-8", "replace"))
                continue
            if not rel:
                continue
            if info.is_dir():
                (dest / rel).mkdir(parents=True, exist_ok=True)
                continue
            if info.flag_bits & 0x1:
                raise BadSubmission("the archive is encrypted: submit it without a password")
            with zf.open(info) as src:
                _write(src, dest / rel, budget)


class _BoundedReader:
    """A read-only file that refuses any single read larger than MAX_HEADER_READ.

    tarfile reads a GNU long name or a pax header in one call of the size its header declares;
    through this reader a header that declares gigabytes is refused before anything is allocated.
    Member data is read in CHUNK pieces, far below the bound.
    """

    def __init__(self, raw):
        self.raw = raw

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0 or size > MAX_HEADER_READ:
            raise BadSubmission("an entry's header declares a field of more than "
                                f"{MAX_HEADER_READ // 2**20} MB (an archive bomb?): refused")
        return self.raw.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.raw.seek(offset, whence)

    def tell(self) -> int:
        return self.raw.tell()


class _TarInfo(tarfile.TarInfo):
    """tarfile's member header, refusing sparse files: their maps (a chain of extended headers or a
    pax list) cost time and memory in proportion to the archive, and no learner submits one."""

    def _refuse(self, *args, **kwargs):
        raise BadSubmission("the archive holds a sparse file: refused")

    _proc_sparse = _proc_gnusparse_00 = _proc_gnusparse_01 = _proc_gnusparse_10 = _refuse


_COMPRESSED = ((b"\x1f\x8b", gzip.GzipFile), (b"BZh", bz2.BZ2File), (b"\xfd7zXZ\x00", lzma.LZMAFile))


def _decompressed(path: Path, budget: _Budget):
    """The tar stream, decompressed into an anonymous temporary file of bounded size.

    Decompressing ahead (64 KB at a time) bounds both the memory and the disk a compression bomb
    can cost, and lets tarfile seek in a plain file instead of re-reading a compressed stream.
    """
    cap = budget.max_bytes + 1024 * (budget.max_files + 16) + 4 * MAX_HEADER_READ
    with open(path, "rb") as f:
        magic = f.read(6)
    opener = next((o for m, o in _COMPRESSED if magic.startswith(m)), None)
    out = tempfile.TemporaryFile(prefix="vaegrade-tar-")
    try:
        with (opener(path, "rb") if opener else open(path, "rb")) as src:
            total = 0
            while chunk := src.read(CHUNK):
                total += len(chunk)
                if total > cap:
                    raise BadSubmission(f"more than {budget.max_bytes // 2**20} MB once decompressed "
                                        "(an archive bomb?): refused")
                out.write(chunk)
        out.seek(0)
        return out
    except BaseException:
        out.close()
        raise


def _untar(path: Path, dest: Path, budget: _Budget) -> None:
    with _decompressed(path, budget) as raw, tarfile.open(fileobj=_BoundedReader(raw), mode="r:",
                                                               tarinfo=_TarInfo) as tf:
        for member in tf:   # headers are read one by one: the caps apply before any data is read
            budget.entry()
            rel = _member_path(member.name)
            if member.issym() or member.islnk():
                _check_link(rel, member.linkname, hard=member.islnk())
                continue
            if not (member.isreg() or member.isdir()):
                continue   # devices, FIFOs: never created
            budget.declare(member.size)
            if not rel:
                continue
            try:   # the standard library's own safety filter, as a second opinion
                tarfile.data_filter(member, str(dest))
            except tarfile.FilterError as exc:
                raise BadSubmission(f"unsafe entry {member.name!r}: {exc}") from None
            if member.isdir():
                (dest / rel).mkdir(parents=True, exist_ok=True)
                continue
            src = tf.extractfile(member)
            if src is None:
                continue
            with src:
                _write(src, dest / rel, budget)


def unpack(entry: Entry, dest: Path, *, max_bytes: int = MAX_TOTAL_BYTES, max_files: int = MAX_FILES) -> None:
    """Extract the archive `entry` into the empty folder `dest`, safely; BadSubmission on anything wrong."""
    budget = _Budget(max_bytes, max_files)
    try:
        if entry.path.stat().st_size > max_bytes:
            raise BadSubmission(f"the archive is larger than {max_bytes // 2**20} MB: refused")
        if entry.kind == "zip":
            _unzip(entry.path, dest, budget)
        else:
            _untar(entry.path, dest, budget)
    except BadSubmission:
        raise
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, NotImplementedError) as exc:
        raise BadSubmission(f"the archive is corrupt or not a {entry.kind} archive ({_short(exc)})") from None
    except RecursionError:  # tarfile follows a chain of extended headers recursively
        raise BadSubmission("the archive chains too many extended headers: refused") from None
    except RuntimeError as exc:  # zipfile: encrypted entries, unsupported features
        raise BadSubmission(f"the archive cannot be read ({_short(exc)})") from None
    except (OSError, ValueError, UnicodeError) as exc:
        raise BadSubmission(f"the archive cannot be unpacked ({_short(exc)})") from None


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


# --- a folder, unpacked or given ------------------------------------------------------------------


def _scan(root: Path, budget: _Budget) -> list[str]:
    """Every regular file under root (relative paths); links out of the tree refused, sizes capped."""
    files = []
    for folder, dirs, names in os.walk(root):   # os.walk never follows links to folders
        dirs[:] = [d for d in dirs if not _junk(d)]   # .git, __pycache__: not looked at
        for name in sorted(dirs) + sorted(n for n in names if not _junk(n)):
            budget.entry()
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                target = os.readlink(path)
                real = os.path.realpath(path)
                if os.path.isabs(target) or os.path.commonpath([real, os.path.realpath(root)]) != os.path.realpath(root):
                    raise BadSubmission(f"{rel!r} is a link to {target!r}, outside the submission: refused")
                continue   # a link inside the tree is never followed either
            if stat.S_ISREG(st.st_mode):
                budget.declare(st.st_size)
                files.append(rel)
    return files


def _graded_kind(name: str) -> bool:
    """A top-level file that is graded: a .py file, or a notebook (its definitions are extracted)."""
    return name.endswith(".py") or name.lower().endswith(NOTEBOOK)


def _junk(name: str) -> bool:
    return name in JUNK or name.startswith(".")


def _top(root: Path) -> Path:
    """Unwrap nested single top folders: alice/alice/mse.py -> alice/alice."""
    while True:
        try:
            items = [e for e in os.scandir(root) if not _junk(e.name)]
        except OSError as exc:
            raise BadSubmission(f"cannot read the submission ({exc.strerror})") from None
        if len(items) != 1 or not items[0].is_dir(follow_symlinks=False):
            return root
        root = Path(items[0].path)


def content_hash(folder: Path, files: list[str]) -> str:
    """sha256 over the graded files: for each, in sorted order, name NUL size NUL bytes."""
    h = hashlib.sha256()
    for name in sorted(files):
        data = (folder / name).read_bytes()
        h.update(name.encode("utf-8", "surrogateescape") + b"\0" + str(len(data)).encode() + b"\0")
        h.update(data)
    return h.hexdigest()


def prepare(entry: Entry, work: Path, *, max_bytes: int = MAX_TOTAL_BYTES, max_files: int = MAX_FILES) -> Prepared:
    """Unpack (or check) the submission and copy its top-level .py files into work/files."""
    if entry.kind == "folder":
        source = entry.path
    elif entry.kind == "notebook":   # a notebook handed in on its own: a folder holding just it
        source = work / "unpacked"
        source.mkdir()
        try:
            fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as src:
                _write(src, source / entry.path.name, _Budget(max_bytes, 1))
        except OSError as exc:
            raise BadSubmission(f"cannot read the notebook ({exc.strerror or exc})") from None
    else:
        source = work / "unpacked"
        source.mkdir()
        unpack(entry, source, max_bytes=max_bytes, max_files=max_files)
    try:
        every = _scan(source, _Budget(max_bytes, max_files))
    except OSError as exc:
        raise BadSubmission(f"cannot read the submission ({exc.strerror or exc})") from None
    top = _top(source)
    prefix = os.path.relpath(top, source)
    prefix = "" if prefix == "." else prefix + os.sep
    graded, ignored, quiz = [], [], []
    for rel in every:
        inner = rel[len(prefix):] if rel.startswith(prefix) else None
        if inner in QUIZ_FILES:
            quiz.append(inner)
        elif inner is not None and os.sep not in inner and _graded_kind(inner):
            cap = MAX_PY_BYTES if inner.endswith(".py") else max_bytes
            if os.lstat(top / inner).st_size <= cap:
                graded.append(inner)
                continue
            ignored.append(f"{rel} (larger than {cap // 2**20} MB)")
        else:
            ignored.append(rel)
    if not graded and not ignored and not quiz:
        raise BadSubmission("the submission is empty")
    if not graded and not quiz:
        shown = ", ".join(ignored[:5]) + (f" and {len(ignored) - 5} more" if len(ignored) > 5 else "")
        raise BadSubmission("no Python file or Jupyter notebook (.ipynb) at the top of the submission"
                            + (f" (found: {shown})" if shown else ""))
    folder, quiz_folder = work / "files", work / "quiz"
    folder.mkdir()
    graded.sort()
    try:
        for name, dest in [(n, folder) for n in graded] + [(n, quiz_folder) for n in quiz]:
            dest.mkdir(exist_ok=True)   # O_NOFOLLOW: a file swapped for a link meanwhile is refused, not read
            fd = os.open(top / name, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as src:
                _write(src, dest / name, _Budget(MAX_PY_BYTES if name.endswith(".py") else max_bytes, 1))
    except OSError as exc:
        raise BadSubmission(f"cannot read the submission ({exc.strerror or exc})") from None
    return Prepared(folder, graded, content_hash(folder, graded), sorted(ignored),
                    quiz_folder if quiz else None)
