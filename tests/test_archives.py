"""Unpacking learners' submissions safely: folders, .zip and .tar.gz, and every bad kind refused."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

from grader.grading import intake as archives
from grader.grading.intake import BadSubmission, Entry

MSE = "def reconstruction_mse(x, x_hat):\n    return 0.0\n"


def make_zip(path: Path, members: dict[str, bytes], links: dict[str, str] = ()) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name, target in dict(links).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (0o120777 << 16)
            zf.writestr(info, target)
    return path


def make_tar(path: Path, members: dict[str, bytes], *, symlinks: dict[str, str] = (),
             hardlinks: dict[str, str] = (), sizes: dict[str, int] = ()) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, size in dict(sizes).items():   # a big file of zeros: tiny once compressed
            info = tarfile.TarInfo(name)
            info.size = size
            tf.addfile(info, io.BytesIO(bytes(size)))
        for kind, links in ((tarfile.SYMTYPE, symlinks), (tarfile.LNKTYPE, hardlinks)):
            for name, target in dict(links).items():
                info = tarfile.TarInfo(name)
                info.type, info.linkname = kind, target
                tf.addfile(info)
    return path


def prepare(path: Path, tmp_path: Path, **caps) -> archives.Prepared:
    named = archives.archive_kind(path.name)
    entry = Entry(named[0], path, named[1]) if named else Entry(path.name, path, "folder")
    work = tmp_path / "work"
    work.mkdir()
    return archives.prepare(entry, work, **caps)


# --- finding submissions --------------------------------------------------------------------


def test_discover_names_learners_by_folder_or_archive(tmp_path):
    (tmp_path / "alice").mkdir()
    make_zip(tmp_path / "bob.zip", {"mse.py": b""})
    make_tar(tmp_path / "carol.tar.gz", {"mse.py": b""})
    make_tar(tmp_path / "dan.tgz", {"mse.py": b""})
    (tmp_path / ".DS_Store").write_text("")
    (tmp_path / "roster.csv").write_text("alice\n")
    found = archives.discover(tmp_path)
    assert [(e.learner, e.kind) for e in found.entries] == [
        ("alice", "folder"), ("bob", "zip"), ("carol", "tar"), ("dan", "tar")]
    assert found.problems == []
    assert found.ignored == ["roster.csv (not a folder, .zip, .tar.gz or .ipynb)"]


def test_two_submissions_for_one_learner_are_a_problem(tmp_path):
    (tmp_path / "alice").mkdir()
    make_zip(tmp_path / "alice.zip", {"mse.py": b""})
    found = archives.discover(tmp_path)
    assert found.entries == []
    assert found.problems[0][0] == "alice" and "alice, alice.zip" in found.problems[0][1]


# --- good submissions -----------------------------------------------------------------------------


def test_folder_keeps_top_level_python_files_and_lists_the_rest(tmp_path):
    sub = tmp_path / "alice"
    (sub / "notes").mkdir(parents=True)
    (sub / "mse.py").write_text(MSE)
    (sub / "report.pdf").write_bytes(b"%PDF")
    (sub / "notes" / "draft.py").write_text("x = 1\n")
    (sub / "__pycache__").mkdir()
    (sub / "__pycache__" / "mse.cpython-311.pyc").write_bytes(b"\0")
    got = prepare(sub, tmp_path)
    assert got.files == ["mse.py"]
    assert sorted(os.listdir(got.folder)) == ["mse.py"]
    assert got.ignored == [os.path.join("notes", "draft.py"), "report.pdf"]


@pytest.mark.parametrize("fmt", ["zip", "tar.gz"])
def test_nested_single_top_folders_are_unwrapped(tmp_path, fmt):
    members = {"alice/submission/mse.py": MSE.encode(), "alice/submission/kl.py": b"x = 1\n"}
    path = tmp_path / f"alice.{fmt}"
    make_zip(path, members) if fmt == "zip" else make_tar(path, members)
    got = prepare(path, tmp_path)
    assert got.files == ["kl.py", "mse.py"]
    assert (got.folder / "mse.py").read_text() == MSE


def test_content_hash_follows_the_python_files_only(tmp_path):
    def digest(name, files):
        sub = tmp_path / name
        sub.mkdir()
        for fname, text in files.items():
            (sub / fname).write_text(text)
        return prepare(sub, tmp_path / f"w-{name}").content_hash

    (tmp_path / "w-a").mkdir(), (tmp_path / "w-b").mkdir(), (tmp_path / "w-c").mkdir(), (tmp_path / "w-d").mkdir()
    a = digest("a", {"mse.py": MSE})
    assert digest("b", {"mse.py": MSE, "readme.txt": "hello"}) == a        # other files do not count
    assert digest("c", {"mse.py": MSE + "\n"}) != a                        # one byte more does
    assert digest("d", {"kl.py": MSE}) != a                                # and so does the name


def test_the_same_files_as_folder_zip_and_tar_hash_the_same(tmp_path):
    files = {"mse.py": MSE.encode(), "kl.py": b"y = 2\n"}
    folder = tmp_path / "f"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    hashes = set()
    for i, path in enumerate([folder, make_zip(tmp_path / "z.zip", files), make_tar(tmp_path / "t.tar.gz", files)]):
        (tmp_path / f"w{i}").mkdir()
        hashes.add(prepare(path, tmp_path / f"w{i}").content_hash)
    assert len(hashes) == 1


def test_links_inside_the_tree_are_ignored_not_followed(tmp_path):
    sub = tmp_path / "alice"
    sub.mkdir()
    (sub / "real.py").write_text(MSE)
    os.symlink("real.py", sub / "mse.py")
    got = prepare(sub, tmp_path)
    assert got.files == ["real.py"]
    tar = make_tar(tmp_path / "bob.tar.gz", {"real.py": MSE.encode()}, symlinks={"mse.py": "real.py"})
    (tmp_path / "w2").mkdir()
    assert prepare(tar, tmp_path / "w2").files == ["real.py"]


# --- bad submissions: each refused with a reason ---------------------------------------------------


def _corrupt_zip(tmp_path):
    path = tmp_path / "x.zip"
    path.write_bytes(b"PK\x03\x04 this is not really a zip archive" * 10)
    return path


def _truncated_tar(tmp_path):
    path = make_tar(tmp_path / "x.tar.gz", {"mse.py": os.urandom(50_000)})
    path.write_bytes(path.read_bytes()[:2000])
    return path


def _folder_link_out(tmp_path):
    sub = tmp_path / "x"
    sub.mkdir()
    (sub / "kl.py").write_text("")
    os.symlink("/etc/passwd", sub / "mse.py")
    return sub


def _folder_relative_link_out(tmp_path):
    sub = tmp_path / "x"
    (sub / "deep").mkdir(parents=True)
    (sub / "kl.py").write_text("")
    os.symlink("../../../secret.py", sub / "deep" / "mse.py")
    return sub


def _many_files_zip(tmp_path):
    return make_zip(tmp_path / "x.zip", {f"f{i}.py": b"" for i in range(201)})


def _empty_folder(tmp_path):
    (tmp_path / "x").mkdir()
    return tmp_path / "x"


def _no_python_folder(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "answers.docx").write_bytes(b"PK")
    return tmp_path / "x"


BAD = {
    "corrupt zip": (_corrupt_zip, "corrupt"),
    "truncated tar.gz": (_truncated_tar, "corrupt"),
    "zip path traversal": (lambda t: make_zip(t / "x.zip", {"../../evil.py": b"x"}), "leads out"),
    "tar path traversal": (lambda t: make_tar(t / "x.tar.gz", {"sub/../../evil.py": b"x"}), "leads out"),
    "zip absolute path": (lambda t: make_zip(t / "x.zip", {"/tmp/evil.py": b"x"}), "absolute"),
    "tar absolute path": (lambda t: make_tar(t / "x.tar.gz", {"/tmp/evil.py": b"x"}), "absolute"),
    "zip windows absolute path": (lambda t: make_zip(t / "x.zip", {"C:\\evil.py": b"x"}), "absolute"),
    "zip symlink out of the tree": (lambda t: make_zip(t / "x.zip", {"kl.py": b""}, links={"mse.py": "/etc/passwd"}),
                                    "outside"),
    "tar symlink out of the tree": (lambda t: make_tar(t / "x.tar.gz", {"kl.py": b""},
                                                       symlinks={"mse.py": "../../../etc/passwd"}), "outside"),
    "tar hard link out of the tree": (lambda t: make_tar(t / "x.tar.gz", {"kl.py": b""},
                                                         hardlinks={"mse.py": "../etc/passwd"}), "outside"),
    "folder symlink out of the tree": (_folder_link_out, "outside"),
    "folder relative symlink out of the tree": (_folder_relative_link_out, "outside"),
    "tar bomb (uncompressed size)": (lambda t: make_tar(t / "x.tar.gz", {}, sizes={"mse.py": 21 * 2**20}), "MB"),
    "zip bomb (uncompressed size)": (lambda t: make_zip(t / "x.zip", {"mse.py": bytes(21 * 2**20)}), "MB"),
    "zip bomb (file count)": (_many_files_zip, "more than 200"),
    "tar bomb (file count)": (lambda t: make_tar(t / "x.tar.gz", {f"f{i}.py": b"" for i in range(201)}),
                              "more than 200"),
    "empty folder": (_empty_folder, "empty"),
    "empty zip": (lambda t: make_zip(t / "x.zip", {}), "empty"),
    "no Python file": (_no_python_folder, "no Python file"),
}


@pytest.mark.parametrize("kind", list(BAD))
def test_bad_submission_is_refused_with_a_reason(tmp_path, kind):
    build, words = BAD[kind]
    path = build(tmp_path)
    with pytest.raises(BadSubmission, match=words):
        prepare(path, tmp_path)
    assert not (tmp_path.parent / "evil.py").exists() and not Path("/tmp/evil.py").exists()


def test_actual_bytes_are_counted_not_only_the_declared_sizes(tmp_path):
    budget = archives._Budget(max_bytes=1000, max_files=10)
    budget.declare(10)   # what a lying header says
    with pytest.raises(BadSubmission, match="once decompressed"):
        archives._write(io.BytesIO(bytes(5000)), tmp_path / "out.py", budget)


def test_special_files_in_a_tar_are_never_created(tmp_path):
    path = tmp_path / "x.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        fifo = tarfile.TarInfo("pipe")
        fifo.type = tarfile.FIFOTYPE
        tf.addfile(fifo)
        info = tarfile.TarInfo("mse.py")
        info.size = len(MSE)
        tf.addfile(info, io.BytesIO(MSE.encode()))
    got = prepare(path, tmp_path)
    assert got.files == ["mse.py"]
    assert not (tmp_path / "work" / "unpacked" / "pipe").exists()


# --- archives that would allocate before their caps are consulted -----------------------------------

def _gzip_of_zeros(megabytes: int) -> bytes:
    """A gzip stream of `megabytes` MB of zeros, about 1 KB per MB: one small member, repeated."""
    import gzip

    return gzip.compress(bytes(1 << 20), compresslevel=9) * megabytes


def _extension_header(kind: bytes, size: int) -> bytes:
    """One 512-byte tar header of type `kind` (GNU long name or link, pax) declaring `size` bytes."""
    info = tarfile.TarInfo("././@LongLink")
    info.size = size
    header = bytearray(info.tobuf(format=tarfile.GNU_FORMAT)[:512])
    header[156:157] = kind
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\x00 " % sum(header)
    return bytes(header)


def _hostile_tar(tmp_path: Path, kind: bytes, declared_mb: int, name: str) -> Path:
    """A .tar.gz whose first header is an extension (GNU long name, pax) declaring `declared_mb` MB."""
    import gzip

    path = tmp_path / name
    path.write_bytes(gzip.compress(_extension_header(kind, declared_mb << 20)) + _gzip_of_zeros(declared_mb))
    return path


def _ballooning(fn) -> tuple[int, float]:
    """(peak bytes allocated by Python, seconds) while fn runs."""
    import time
    import tracemalloc

    tracemalloc.start()
    started = time.monotonic()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak, time.monotonic() - started


@pytest.mark.parametrize("kind, declared_mb", [
    (tarfile.GNUTYPE_LONGNAME, 1500),   # a long name of 1.5 GB
    (tarfile.GNUTYPE_LONGLINK, 900),    # a long link target
    (tarfile.XHDTYPE, 1200),            # a pax header
    (tarfile.XGLTYPE, 700),             # a global pax header
])
def test_a_tar_header_declaring_gigabytes_costs_nothing(kind, declared_mb, tmp_path):
    path = _hostile_tar(tmp_path, kind, declared_mb, "mallory.tar.gz")
    assert path.stat().st_size < 2 * 2**20
    peak, seconds = _ballooning(lambda: pytest.raises(BadSubmission, prepare, path, tmp_path))
    assert peak < 100 * 2**20, f"{peak / 2**20:.0f} MB"
    assert seconds < 30


def test_a_tar_extension_field_is_bounded_even_under_the_size_cap(tmp_path):
    """A 3 MB long name in a small archive: within the 20 MB budget, yet refused before being read."""
    path = _hostile_tar(tmp_path, tarfile.GNUTYPE_LONGNAME, 3, "mallory.tar.gz")
    with pytest.raises(BadSubmission, match="header"):
        prepare(path, tmp_path)


def test_a_long_chain_of_extension_headers_is_refused(tmp_path):
    import gzip

    chain = b""
    for _ in range(3000):
        chain += _extension_header(tarfile.GNUTYPE_LONGNAME, 100) + b"a" * 100 + bytes(412)
    path = tmp_path / "mallory.tar.gz"
    path.write_bytes(gzip.compress(chain))
    with pytest.raises(BadSubmission):
        prepare(path, tmp_path)


def _zip_with_directory(tmp_path: Path, entries: int, name_len: int) -> Path:
    """A zip whose central directory alone lists `entries` entries (no data behind them)."""
    import struct

    central = b""
    name = b"n" * name_len
    one = struct.pack("<4s4B4HL2L5H2L", b"PK\x01\x02", 20, 3, 20, 0, 0, 0, 0, 0, 0, 0, 0,
                      len(name), 0, 0, 0, 0, 0, 0) + name
    central = one * entries
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, min(entries, 0xFFFF), min(entries, 0xFFFF),
                      len(central), 0, 0)
    path = tmp_path / "mallory.zip"
    path.write_bytes(central + end)
    return path


@pytest.mark.parametrize("entries, name_len", [(60_000, 0), (40, 60_000), (30_000, 20)])
def test_a_zip_directory_with_enormous_counts_or_names_costs_nothing(entries, name_len, tmp_path):
    path = _zip_with_directory(tmp_path, entries, name_len)
    assert path.stat().st_size < 3 * 2**20
    peak, seconds = _ballooning(lambda: pytest.raises(BadSubmission, prepare, path, tmp_path))
    assert peak < 20 * 2**20, f"{peak / 2**20:.0f} MB"
    assert seconds < 10


def test_a_zip_bomb_by_ratio_stops_at_the_cap(tmp_path):
    path = tmp_path / "mallory.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("mse.py", "w", force_zip64=True) as f:
            for _ in range(200):
                f.write(bytes(1 << 20))   # 200 MB of zeros, about 200 KB compressed
    assert path.stat().st_size < 2**20
    peak, _ = _ballooning(lambda: pytest.raises(BadSubmission, prepare, path, tmp_path))
    assert peak < 40 * 2**20
    assert not any(p.stat().st_size > archives.MAX_TOTAL_BYTES for p in tmp_path.rglob("*") if p.is_file()
                   and p != path)


def test_a_nested_archive_is_not_unpacked(tmp_path):
    inner = make_zip(tmp_path / "inner.zip", {"mse.py": MSE.encode()})
    outer = make_zip(tmp_path / "bob.zip", {"inner.zip": inner.read_bytes(), "sigma.py": b"x = 1\n"})
    prepared = prepare(outer, tmp_path)
    assert prepared.files == ["sigma.py"] and prepared.ignored == ["inner.zip"]


def test_a_member_name_of_more_than_a_thousand_characters_is_refused(tmp_path):
    path = make_zip(tmp_path / "bob.zip", {"a" * 1500 + ".py": b"", "mse.py": MSE.encode()})
    with pytest.raises(BadSubmission, match="longer than"):
        prepare(path, tmp_path)


def test_a_fifo_in_a_folder_submission_is_never_opened(tmp_path):
    sub = tmp_path / "alice"
    sub.mkdir()
    (sub / "mse.py").write_text(MSE)
    os.mkfifo(sub / "sigma.py")   # opening it for reading would block forever
    prepared = prepare(sub, tmp_path)
    assert prepared.files == ["mse.py"]


def _old_gnu_sparse(extended_blocks: int) -> bytes:
    """A GNU sparse member whose map continues over `extended_blocks` extended headers."""
    info = tarfile.TarInfo("mse.py")
    header = bytearray(info.tobuf(format=tarfile.GNU_FORMAT)[:512])
    header[156:157] = tarfile.GNUTYPE_SPARSE
    header[482] = 1   # isextended
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\x00 " % sum(header)
    block = bytearray(512)
    for i in range(21):
        block[24 * i:24 * i + 24] = b"%011o\x00" % (10 * i) + b"%011o\x00" % 1
    block[504] = 1
    return bytes(header) + bytes(block) * extended_blocks + bytes(1024)


@pytest.mark.parametrize("build", [
    lambda: _old_gnu_sparse(30_000),   # 630 000 map entries in 15 MB: 10 s and 50 MB for plain tarfile
    lambda: _pax_sparse(),
])
def test_sparse_members_are_refused_before_their_maps_are_read(build, tmp_path):
    import gzip

    path = tmp_path / "mallory.tar.gz"
    path.write_bytes(gzip.compress(build()))
    peak, seconds = _ballooning(lambda: pytest.raises(BadSubmission, prepare, path, tmp_path))
    assert peak < 40 * 2**20 and seconds < 5, (peak, seconds)
    shutil.rmtree(tmp_path / "work")
    with pytest.raises(BadSubmission, match="sparse"):
        prepare(path, tmp_path)
    assert not (tmp_path / "work" / "unpacked" / "mse.py").exists()


def _pax_sparse() -> bytes:
    info = tarfile.TarInfo("mse.py")
    info.size = 10
    info.pax_headers = {"GNU.sparse.map": ",".join(["0", "1"] * 50_000), "GNU.sparse.size": "100000"}
    return info.tobuf(format=tarfile.PAX_FORMAT) + bytes(512) + bytes(1024)
