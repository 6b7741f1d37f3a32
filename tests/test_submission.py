"""grader/submission.py's prepare on hostile input: every submission that
cannot be graded (damaged archives, odd layouts, deep or long paths, odd
names, special files, source too nested to compile) raises a
SubmissionError that says what happened, never another exception, and
never blocks; good submissions still prepare.  Fast: no grading runs."""
import bz2
import gzip
import io
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import warnings
import zipfile

import pytest

from grader.errors import SubmissionError
from grader.submission import WHAT_TO_SUBMIT, prepare
from tests.grading import KIT, copy_root

DAMAGED = ("submission", "cannot be read", "damaged", WHAT_TO_SUBMIT)
TOO_DEEP = ("too deep or too long", "more than 32 levels deep", "longer than 255 bytes", WHAT_TO_SUBMIT)
NOT_UTF8 = ("not valid UTF-8", WHAT_TO_SUBMIT)
NESTED = ("does not compile", "needle/ops/x.py: too deeply nested to compile")
MISSING_INIT = ("needle/__init__.py is missing", WHAT_TO_SUBMIT)


class Blocked(Exception):
    """Not an OSError, so that no handler of prepare's swallows it."""


@pytest.fixture(autouse=True)
def no_hang():
    """A test that blocks (on a FIFO, say) fails after 20 s instead."""
    def hung(signum, frame):
        raise Blocked("prepare blocked for 20 s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _reference_files():
    for folder in ("needle", "apps"):
        for path in sorted((KIT / "reference" / folder).rglob("*.py")):
            yield path.relative_to(KIT / "reference").as_posix(), path.read_bytes()


def _zip(tmp_path, extra=(), compression=zipfile.ZIP_DEFLATED):
    """A zip of ``extra`` (name, bytes) entries, then the reference."""
    path = tmp_path / "submission.zip"
    with warnings.catch_warnings(), zipfile.ZipFile(path, "w", compression) as z:
        warnings.simplefilter("ignore")  # "Duplicate name"
        for name, data in (*extra, *_reference_files()):
            z.writestr(name, data)
    return path


def _tar_gz(tmp_path, extra=(), prefix="", compression="gz"):
    """A .tar.gz (whatever its ``compression``) of ``extra`` entries, then the reference under ``prefix``."""
    path = tmp_path / "submission.tar.gz"
    with tarfile.open(path, f"w:{compression}", format=tarfile.GNU_FORMAT) as t:
        for name, data in (*extra, *((prefix + name, data) for name, data in _reference_files())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.type = tarfile.DIRTYPE if name.endswith("/") else tarfile.REGTYPE
            t.addfile(info, io.BytesIO(data))
    return path


def _folder(tmp_path):
    return copy_root(KIT / "reference", tmp_path / "submission")


def _patched(path, old: bytes, new: bytes, count=-1):
    data = path.read_bytes()
    assert old in data
    path.write_bytes(data.replace(old, new, count))
    return path


# --- archives ---------------------------------------------------------------------


def zip_bad_crc(tmp_path):
    payload = b"# my answers\n" * 100
    return _patched(_zip(tmp_path, [("needle/answers.py", payload)], zipfile.ZIP_STORED), payload[:50], b"#" * 50, 1)


def zip_corrupt_deflate_stream(tmp_path):
    path = _zip(tmp_path, [("needle/answers.py", random.Random(0).randbytes(3000).hex().encode())])
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("needle/answers.py")
    data = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename)  # the member's compressed bytes
    data[start + 10:start + 400] = random.Random(1).randbytes(390)
    path.write_bytes(bytes(data))
    return path


def _first_member_patched(path, local: int, central: int, patch):
    """``patch`` applied to the bytes at ``local`` in the first member's
    local header and at ``central`` in its central directory entry."""
    with zipfile.ZipFile(path) as z:
        start = z.start_dir
    data = bytearray(path.read_bytes())
    for at in (local, start + central):
        data[at:at + 4] = patch(data[at:at + 4])
    path.write_bytes(bytes(data))
    return path


def zip_encrypted(tmp_path):
    """The encryption flag set, as in a zip made with a password."""
    return _first_member_patched(_zip(tmp_path), 6, 8, lambda flags: bytes([flags[0] | 1]) + flags[1:])


def zip_whose_sizes_lie(tmp_path):
    """A member of 64 MiB (0.06 MiB compressed) declaring 100 bytes."""
    path = _zip(tmp_path, [("needle/data.py", b"0" * (64 << 20))])
    return _first_member_patched(path, 22, 24, lambda size: (100).to_bytes(4, "little"))


def zip_too_big(tmp_path):
    return _zip(tmp_path, [("needle/data.py", b"0" * (51 << 20))])


def zip_too_many_files(tmp_path):
    return _zip(tmp_path, [(f"needle/f{i}.py", b"") for i in range(2001)], zipfile.ZIP_STORED)


def tar_gz_cut(fraction):
    def make(tmp_path):
        path = _tar_gz(tmp_path)
        data = path.read_bytes()
        path.write_bytes(data[:int(len(data) * fraction)])
        return path
    return make


def tar_gz_corrupt_bytes(tmp_path):
    path = _tar_gz(tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2:len(data) // 2 + 200] = random.Random(2).randbytes(200)
    path.write_bytes(bytes(data))
    return path


def gzip_of_garbage(tmp_path):
    path = tmp_path / "submission.tar.gz"
    path.write_bytes(gzip.compress(b"not a tar inside\n" * 100))
    return path


def tar_pax_header_bomb(tmp_path):
    """A pax header, which tarfile reads whole into memory, of 1 GiB of zeros in 1.3 KB of bzip2."""
    header = tarfile.TarInfo("././@PaxHeader")
    header.type, header.size = tarfile.XHDTYPE, 1 << 30
    path = tmp_path / "submission.tar.gz"
    path.write_bytes(bz2.compress(header.tobuf(tarfile.USTAR_FORMAT)) + bz2.compress(bytes(64 << 20)) * 16)
    return path


def file_then_folder(archive):
    return lambda tmp_path: archive(tmp_path, [("needle/ops", b"x = 1\n"), ("needle/ops/extra.py", b"")])


def folder_then_file(tmp_path):
    return _zip(tmp_path, [("needle/extra/", b""), ("needle/extra", b"x = 1\n")])


def same_file_twice(archive):
    return lambda tmp_path: archive(tmp_path, [("needle/autograd.py", b"x = 1\n")])


def deep_chain_in(archive):
    return lambda tmp_path: archive(tmp_path, [("needle/" + "a/" * 300 + "x.py", b"")])


def long_name_in_zip(tmp_path):
    return _zip(tmp_path, [("needle/" + "x" * 300 + ".py", b"")])


def long_path_in_zip(tmp_path):
    return _zip(tmp_path, [("needle/" + ("d" * 200 + "/") * 6 + "x.py", b"")])


def zip_name_not_utf8(tmp_path):
    """The UTF-8 flag set on a name whose bytes are not UTF-8."""
    return _patched(_zip(tmp_path, [("needle/é.py", b"")]), "é".encode(), b"\xff\xfe")


def tar_name_not_utf8(tmp_path):
    return _tar_gz(tmp_path, [("needle/\udcff.py", b"")])


# --- folders -----------------------------------------------------------------------


def with_source(code: str):
    def make(tmp_path):
        root = _folder(tmp_path)
        (root / "needle" / "ops" / "x.py").write_text(code, encoding="utf-8")
        return root
    return make


def deep_folder_chain(tmp_path):
    root = _folder(tmp_path)
    deep = root / "needle" / ("a/" * 300)
    deep.mkdir(parents=True)
    (deep / "x.py").write_text("", encoding="utf-8")
    return root


def long_folder_path(tmp_path):
    root = _folder(tmp_path)
    deep = root / "needle" / (("d" * 200 + "/") * 6)
    deep.mkdir(parents=True)
    return root


def searched_deep_chain(tmp_path):
    """No needle/ anywhere, and folders 300 deep for the search to go down."""
    (tmp_path / "submission" / ("a/" * 300)).mkdir(parents=True)
    return tmp_path / "submission"


def searched_wide_tree(tmp_path):
    """No needle/ anywhere, and folders of 100 folders each for the search to go through."""
    for i in range(21):
        for j in range(100):
            (tmp_path / "submission" / f"d{i}" / f"e{j}").mkdir(parents=True)
    return tmp_path / "submission"


def folder_name_not_utf8(tmp_path):
    root = _folder(tmp_path)
    os.close(os.open(bytes(root / "needle") + b"/\xff.py", os.O_CREAT | os.O_WRONLY))
    return root


def folder_too_big(tmp_path):
    root = _folder(tmp_path)
    with open(root / "needle" / "data.py", "wb") as f:
        f.truncate(51 << 20)  # sparse: nothing written
    return root


def in_place_of_init(make_special):
    """needle/__init__.py replaced by a special file, which must be skipped
    without blocking (so the submission lacks it)."""
    def make(tmp_path):
        root = _folder(tmp_path)
        (root / "needle" / "__init__.py").unlink()
        cwd = os.getcwd()
        os.chdir(root / "needle")  # a socket's address must be short
        try:
            make_special("__init__.py")
        finally:
            os.chdir(cwd)
        return root
    return make


def _bind_socket(name):
    server = socket.socket(socket.AF_UNIX)
    server.bind(name)
    server.close()


def submission_is_a_fifo(tmp_path):
    os.mkfifo(tmp_path / "submission.zip")
    return tmp_path / "submission.zip"


def submission_is_a_link_loop(tmp_path):
    (tmp_path / "submission").symlink_to(tmp_path / "submission")
    return tmp_path / "submission"


BAD = {
    "zip_bad_crc": (zip_bad_crc, DAMAGED + ("Bad CRC-32",)),
    "zip_corrupt_deflate_stream": (zip_corrupt_deflate_stream, DAMAGED),
    "zip_encrypted": (zip_encrypted, DAMAGED + ("encrypted",)),
    "zip_whose_sizes_lie": (zip_whose_sizes_lie, DAMAGED),
    "zip_too_big": (zip_too_big, ("submission.zip holds more than 2000 files or 50 MiB", WHAT_TO_SUBMIT)),
    "zip_too_many_files": (zip_too_many_files, ("submission.zip holds more than 2000 files", WHAT_TO_SUBMIT)),
    "tar_gz_cut_in_half": (tar_gz_cut(0.5), DAMAGED),
    "tar_gz_cut_in_its_first_header": (tar_gz_cut(0.01), DAMAGED),
    "tar_gz_cut_before_its_end": (tar_gz_cut(0.99), DAMAGED),
    "tar_gz_corrupt_bytes": (tar_gz_corrupt_bytes, DAMAGED),
    "gzip_of_garbage": (gzip_of_garbage, DAMAGED),
    "tar_pax_header_bomb": (tar_pax_header_bomb, ("submission.tar.gz unpacks to more than 100 times its own size, "
                                                  "the limit", "compression bomb", WHAT_TO_SUBMIT)),
    "zip_file_then_folder_of_same_name": (file_then_folder(_zip), ("'needle/ops' is both a file and a folder",)),
    "tar_file_then_folder_of_same_name": (file_then_folder(_tar_gz), ("'needle/ops' is both a file and a folder",)),
    "zip_folder_then_file_of_same_name": (folder_then_file, ("'needle/extra' is both a file and a folder",)),
    "zip_same_file_twice": (same_file_twice(_zip), ("'needle/autograd.py' is in the archive twice",)),
    "tar_same_file_twice": (same_file_twice(_tar_gz), ("'needle/autograd.py' is in the archive twice",)),
    "zip_deep_folder_chain": (deep_chain_in(_zip), ("submission.zip", *TOO_DEEP)),
    "tar_deep_folder_chain": (deep_chain_in(_tar_gz), ("submission.tar.gz", *TOO_DEEP)),
    "zip_name_of_300_characters": (long_name_in_zip, TOO_DEEP),
    "zip_path_of_1200_characters": (long_path_in_zip, TOO_DEEP),
    "zip_name_not_utf8": (zip_name_not_utf8, NOT_UTF8),
    "tar_name_not_utf8": (tar_name_not_utf8, ("'needle/\\udcff.py'",) + NOT_UTF8),
    "source_nested_minus_signs": (with_source("x = " + "-" * 100000 + "1\n"), NESTED),  # MemoryError
    "source_nested_attributes": (with_source("x = " + "a." * 100000 + "b\n"), NESTED),  # RecursionError
    "source_nested_parentheses": (with_source("(" * 100000), ("does not compile", "needle/ops/x.py")),
    "source_nested_lists": (with_source("x = " + "[" * 5000 + "]" * 5000), ("does not compile", "needle/ops/x.py")),
    "folder_deep_chain": (deep_folder_chain, TOO_DEEP),
    "folder_path_of_1200_characters": (long_folder_path, TOO_DEEP),
    "search_down_a_deep_chain": (searched_deep_chain, TOO_DEEP),
    "search_through_a_wide_tree": (searched_wide_tree, ("the submission holds more than 2000 files", WHAT_TO_SUBMIT)),
    "folder_name_not_utf8": (folder_name_not_utf8, ("'needle/\\udcff.py'",) + NOT_UTF8),
    "folder_too_big": (folder_too_big, ("the submission holds more than 2000 files or 50 MiB", WHAT_TO_SUBMIT)),
    "fifo_in_place_of_init": (in_place_of_init(os.mkfifo), MISSING_INIT),
    "socket_in_place_of_init": (in_place_of_init(_bind_socket), MISSING_INIT),
    "link_loop_in_place_of_init": (in_place_of_init(lambda name: os.symlink(name, name)), MISSING_INIT),
    "submission_is_a_fifo": (submission_is_a_fifo, ("neither a folder nor a regular file", WHAT_TO_SUBMIT)),
    "submission_is_a_link_loop": (submission_is_a_link_loop, ("does not exist", WHAT_TO_SUBMIT)),
}


@pytest.mark.parametrize("name", BAD)
def test_bad_submission_raises_a_submission_error_that_says_what_to_fix(name, tmp_path):
    make, says = BAD[name]
    submission = make(tmp_path)
    with pytest.raises(SubmissionError) as raised:
        prepare(submission, tmp_path / "work")
    message = str(raised.value)
    for phrase in says:
        assert phrase in message, f"{phrase!r} not in: {message}"
    assert len(message) < 2000, message
    if (tmp_path / "work").exists():
        shutil.rmtree(tmp_path / "work")  # as grade.py's clean-up does: what prepare left must go


@pytest.mark.parametrize("what", ["file", "folder"])
def test_unreadable_file_or_folder_is_refused(what, tmp_path):
    """Root reads every file: as root, prepare runs in a user namespace as
    the files' owner without root's rights, where mode 000 holds."""
    root = _folder(tmp_path)
    (root / "needle" / "ops" / "ops_mathematic.py" if what == "file" else root / "needle" / "ops").chmod(0)
    code = ("import sys; from pathlib import Path; from grader.submission import prepare\n"
            "try:\n    prepare(Path(sys.argv[1]), Path(sys.argv[2]))\n"
            "except Exception as error:\n    print(type(error).__name__, error)\n")
    as_owner = ["unshare", "--user", "--map-user=1000", "--map-group=1000"] if os.geteuid() == 0 else []
    done = subprocess.run([*as_owner, sys.executable, "-c", code, root, tmp_path / "work"], cwd=KIT,
                          capture_output=True, text=True, timeout=60)
    (root / "needle" / "ops").chmod(0o755)  # so that pytest can clean up
    if done.stderr.startswith("unshare:"):
        pytest.skip(f"no user namespace here: {done.stderr}")
    expected = "needle/ops/ops_mathematic.py cannot be read" if what == "file" else "needle/ops/ cannot be read"
    assert done.stdout.startswith("SubmissionError"), done.stdout + done.stderr
    assert expected in done.stdout and "Permission denied" in done.stdout, done.stdout


@pytest.mark.parametrize("make", [
    lambda tmp_path: copy_root(KIT / "handout", tmp_path / "submission"),
    lambda tmp_path: _zip(tmp_path),
    lambda tmp_path: _tar_gz(tmp_path, [("./", b"")], prefix="./"),  # as `tar -czf submission.tar.gz .` makes it
    lambda tmp_path: _zip(tmp_path, [("needle/notes.py/", b""), ("needle/notes.py/a.txt", b"")]),
    lambda tmp_path: _zip(tmp_path, compression=zipfile.ZIP_BZIP2),
    lambda tmp_path: _tar_gz(tmp_path, compression=""),
    lambda tmp_path: _tar_gz(tmp_path, compression="bz2"),
    lambda tmp_path: _tar_gz(tmp_path, compression="xz"),
], ids=["handout_folder", "reference_zip", "reference_tar_gz_with_dot_entries", "folder_named_like_a_module",
        "reference_zip_of_bzip2_members", "reference_tar", "reference_tar_bz2", "reference_tar_xz"])
def test_good_submission_prepares(make, tmp_path):
    root = prepare(make(tmp_path), tmp_path / "work")
    assert (root / "needle" / "__init__.py").is_file()
    assert sorted(p.name for p in root.iterdir()) == ["apps", "needle"]


def test_unpacking_stops_when_the_time_left_runs_out(tmp_path):
    """An archive is unpacked in the time that the submission's budget has
    left: past it, the child unpacking it is killed."""
    with pytest.raises(SubmissionError) as raised:
        prepare(_zip(tmp_path), tmp_path / "work", seconds=0.001)
    assert "submission.zip could not be unpacked within the limits for unpacking (0.001 s" in str(raised.value)


def test_special_files_and_links_are_skipped_without_blocking(tmp_path, monkeypatch):
    root = copy_root(KIT / "handout", tmp_path / "submission")
    monkeypatch.chdir(root / "needle")
    os.mkfifo("fifo.py")
    _bind_socket("socket.py")
    os.symlink("loop.py", "loop.py")
    os.symlink("..", "up")
    prepared = prepare(root, tmp_path / "work")
    copied = {p.relative_to(prepared).as_posix() for p in prepared.rglob("*")}
    assert copied & {"needle/fifo.py", "needle/socket.py", "needle/loop.py", "needle/up"} == set()
    assert "needle/autograd.py" in copied


# --- where the graded code is ------------------------------------------------------
# Students zip whatever folder they worked in: needle/ is found at any depth,
# and a submission that cannot be graded says what was found where.


def _zipped(folder):
    """``folder``'s files in a zip, as `cd folder && zip -r ../submission.zip .` makes it."""
    path = folder.parent / "submission.zip"
    with zipfile.ZipFile(path, "w") as z:
        for file in sorted(p for p in folder.rglob("*") if p.is_file()):
            z.write(file, file.relative_to(folder).as_posix())
    return path


FORMS = {"folder": lambda folder: folder, "zip": _zipped}


def _refusal(submission, tmp_path):
    with pytest.raises(SubmissionError) as raised:
        prepare(submission, tmp_path / "work")
    message = str(raised.value)
    assert str(tmp_path) not in message, message  # paths from the submission's top, never the grader's folders
    return message


def _graded_needle(submission, tmp_path):
    """The files of the needle/ that prepare picked, by path."""
    root = prepare(submission, tmp_path / "work")
    assert sorted(p.name for p in root.iterdir()) == ["apps", "needle"]
    return {p.relative_to(root / "needle").as_posix(): p.read_bytes() for p in (root / "needle").rglob("*.py")}


def _reference_needle():
    return {name[len("needle/"):]: data for name, data in _reference_files() if name.startswith("needle/")}


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("folders", ["hw/handout", "course/hw2/handout"],
                         ids=["two_folders_deep", "three_folders_deep"])
def test_needle_deep_in_the_submission_is_found_with_apps_beside_it(folders, form, tmp_path):
    copy_root(KIT / "reference", tmp_path / "submission" / folders)
    assert _graded_needle(FORMS[form](tmp_path / "submission"), tmp_path) == _reference_needle()


@pytest.mark.parametrize("form", FORMS)
def test_the_whole_bundle_folder_is_graded_from_its_handout(form, tmp_path):
    """What a student gets when zipping the folder the bundle was unpacked in:
    handout/ beside README.md, tests_public/, the box library and data."""
    from grader import bundle

    unpacked = tmp_path / "submission" / "needle-handout"
    for name, data in bundle.contents().items():
        (unpacked / name).parent.mkdir(parents=True, exist_ok=True)
        (unpacked / name).write_bytes(data)
    (unpacked / "data" / "mnist").mkdir(parents=True)
    (unpacked / "data" / "mnist" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b")
    prepared = _graded_needle(FORMS[form](tmp_path / "submission"), tmp_path)
    assert prepared == {p.relative_to(KIT / "handout" / "needle").as_posix(): p.read_bytes()
                        for p in (KIT / "handout" / "needle").rglob("*.py")}


def test_the_shallowest_needle_is_graded_and_a_deeper_copy_ignored(tmp_path):
    submission = copy_root(KIT / "reference", tmp_path / "submission")
    old = tmp_path / "submission" / "old_attempt"
    copy_root(KIT / "handout", old)
    (old / "needle" / "__init__.py").write_text("raise SystemExit('the old attempt')\n", encoding="utf-8")
    assert _graded_needle(submission, tmp_path) == _reference_needle()


@pytest.mark.parametrize("form", FORMS)
def test_two_needle_folders_at_the_same_depth_are_refused_naming_both(form, tmp_path):
    for attempt in ("attempt1", "attempt2"):
        copy_root(KIT / "reference", tmp_path / "submission" / attempt)
    message = _refusal(FORMS[form](tmp_path / "submission"), tmp_path)
    for phrase in ("2 needle/ folders", "'attempt1/needle', 'attempt2/needle'", "submit only one", WHAT_TO_SUBMIT):
        assert phrase in message, message


def test_many_needle_folders_are_listed_five_at_most(tmp_path):
    for i in range(7):
        copy_root(KIT / "reference", tmp_path / "submission" / f"v{i}")
    message = _refusal(tmp_path / "submission", tmp_path)
    assert "7 needle/ folders" in message and "'v4/needle' and 2 more" in message, message
    assert "v5/needle" not in message, message


@pytest.mark.parametrize("form", FORMS)
def test_missing_apps_says_where_needle_is_and_what_to_submit(form, tmp_path):
    shutil.copytree(KIT / "reference" / "needle", tmp_path / "submission" / "hw" / "handout" / "needle")
    message = _refusal(FORMS[form](tmp_path / "submission"), tmp_path)
    for phrase in ("found needle/ at 'hw/handout/needle' but no apps/ beside it", "the submission holds no apps/",
                   WHAT_TO_SUBMIT):
        assert phrase in message, message


@pytest.mark.parametrize("apps, says", [
    ("hw/apps", "apps/ is at 'hw/apps'"),  # shallower than needle/: seen on the way down
    ("hw/handout/old/apps", "apps/ is at 'hw/handout/old/apps'"),  # deeper: looked for once needle/ is found
], ids=["shallower_than_needle", "deeper_than_needle"])
def test_apps_away_from_needle_is_refused_naming_both_places(apps, says, tmp_path):
    shutil.copytree(KIT / "reference" / "needle", tmp_path / "submission" / "hw" / "handout" / "needle")
    shutil.copytree(KIT / "reference" / "apps", tmp_path / "submission" / apps)
    message = _refusal(tmp_path / "submission", tmp_path)
    for phrase in ("found needle/ at 'hw/handout/needle' but no apps/ beside it", says, WHAT_TO_SUBMIT):
        assert phrase in message, message


@pytest.mark.parametrize("top, says", [
    (["notes.txt", "src/main.py"], "its top holds 'notes.txt', 'src/'"),
    ([], "it is empty"),
], ids=["some_files", "nothing"])
def test_no_needle_anywhere_says_what_the_top_holds(top, says, tmp_path):
    submission = tmp_path / "submission"
    submission.mkdir()
    for name in top:
        (submission / name).parent.mkdir(parents=True, exist_ok=True)
        (submission / name).write_text("x = 1\n", encoding="utf-8")
    message = _refusal(submission, tmp_path)
    for phrase in ("no needle/ folder", says, WHAT_TO_SUBMIT):
        assert phrase in message, message


def test_needle_without_init_says_which_init_is_missing(tmp_path):
    copy_root(KIT / "reference", tmp_path / "submission" / "hw")
    (tmp_path / "submission" / "hw" / "needle" / "__init__.py").unlink()
    message = _refusal(tmp_path / "submission", tmp_path)
    assert "hw/needle/__init__.py is missing" in message and WHAT_TO_SUBMIT in message, message


def test_needle_in_macos_resource_folder_is_ignored(tmp_path):
    macos = tmp_path / "submission" / "__MACOSX" / "hw"
    copy_root(KIT / "reference", macos)  # __MACOSX/hw/needle would tie with hw/needle if searched
    copy_root(KIT / "reference", tmp_path / "submission" / "hw")
    assert _graded_needle(_zipped(tmp_path / "submission"), tmp_path) == _reference_needle()
    shutil.rmtree(tmp_path / "work")
    shutil.rmtree(tmp_path / "submission" / "hw")
    assert "no needle/ folder" in _refusal(_zipped(tmp_path / "submission"), tmp_path)


def test_linked_needle_is_not_followed(tmp_path):
    elsewhere = copy_root(KIT / "reference", tmp_path / "elsewhere")
    submission = tmp_path / "submission"
    shutil.copytree(KIT / "reference" / "apps", submission / "apps")
    (submission / "needle").symlink_to(elsewhere / "needle", target_is_directory=True)
    (submission / "hw").symlink_to(elsewhere, target_is_directory=True)
    message = _refusal(submission, tmp_path)
    assert "no needle/ folder" in message and "its top holds 'apps/', 'hw', 'needle'" in message, message
