"""`cola.files`: the one atomic writer (whole or not at all, 0644 under the usual umask) and UTF-8 lines in."""

import os
import stat

import pytest

from cola.errors import CliError
from cola.files import decode_lines, write_atomic


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_text_bytes_and_writer_functions_land_whole_with_the_usual_mode(tmp_path, umask_022):
    assert write_atomic(tmp_path / "a.json", "{}\n").read_text() == "{}\n"
    assert write_atomic(tmp_path / "b.bin", b"\x00\x01").read_bytes() == b"\x00\x01"
    write_atomic(tmp_path / "c.csv", lambda path: path.write_text("x,y\n"))
    assert (tmp_path / "c.csv").read_text() == "x,y\n"
    assert [_mode(tmp_path / name) for name in ("a.json", "b.bin", "c.csv")] == [0o644] * 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.bin", "c.csv"]  # no temporary file left


def test_the_umask_decides_the_mode(tmp_path):
    previous = os.umask(0o077)
    try:
        assert _mode(write_atomic(tmp_path / "private.json", "{}")) == 0o600
    finally:
        os.umask(previous)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = write_atomic(tmp_path / "results.json", "old")

    def broken(path):
        path.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, broken)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_decode_lines():
    assert decode_lines(b"\xef\xbb\xbfone\r\ntwo\n", "f") == ["one", "two"]
    with pytest.raises(CliError, match=r"^f:2: not UTF-8 text \(byte 0xff at offset 1\)"):
        decode_lines(b"ok\nx\xff\n", "f")


def test_a_runs_files_are_readable_by_others(trained_run):
    """results.json, run_config.json, the card and the folder's record get the umask's mode (0644 under 022), not
    a private temporary file's 0600."""
    mask = os.umask(0o022)
    os.umask(mask)
    for name in ("results.json", "run_config.json", "README.md", ".cola-suite-run.json"):
        assert _mode(trained_run / name) == 0o666 & ~mask, name
