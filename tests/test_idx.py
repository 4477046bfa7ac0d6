"""The IDX reader against small hand-made files: good ones of every type code (gzip or not),
and the ways a file can be wrong (a foreign magic number, a cut header, cut data, extra bytes,
a cut gzip stream), each a clear IdxError naming the file."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from image_files import idx_bytes
from trainlab.idx import IdxError, read_idx


def write(path, data: bytes, gz: bool = False):
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("dtype, shape", [
    ("uint8", (5, 28, 28)), ("int8", (7,)), ("int16", (3, 4)), ("int32", (2, 3, 4)),
    ("float32", (6, 2)), ("float64", (1, 1, 1, 5)),
])
def test_good_files_read_back_exactly(tmp_path, dtype, shape, gz):
    rng = np.random.default_rng(0)
    array = (rng.normal(size=shape) * 100).astype(dtype)
    got = read_idx(write(tmp_path / "a-idx", idx_bytes(array), gz))
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    assert got.shape == shape
    np.testing.assert_array_equal(got, array)


def test_an_empty_array_is_a_good_file(tmp_path):
    assert read_idx(write(tmp_path / "e", idx_bytes(np.zeros((0, 28, 28), np.uint8)))).shape \
        == (0, 28, 28)


GOOD = idx_bytes(np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28))

BAD = {  # name -> (the file's bytes, what the message must say)
    "wrong magic (a PNG)": (b"\x89PNG\r\n\x1a\n" + bytes(100), "not an IDX file"),
    "wrong magic (nonzero first bytes)": (b"\x01\x00" + GOOD[2:], "not an IDX file"),
    "unknown type code": (GOOD[:2] + b"\x07" + GOOD[3:], "not an IDX file"),
    "no dimensions": (GOOD[:3] + b"\x00" + GOOD[4:], "not an IDX file"),
    "shorter than a magic number": (b"\x00\x00", "not an IDX file"),
    "empty": (b"", "not an IDX file"),
    "header cut": (GOOD[:10], "truncated"),
    "data cut": (GOOD[:-1], "truncated"),
    "data cut by half": (GOOD[: len(GOOD) // 2], "truncated"),
    "bytes after the data": (GOOD + b"\x00" * 3, "more than its header announces"),
}


@pytest.mark.parametrize("name", BAD)
@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzip"])
def test_bad_files_fail_with_their_name_and_the_reason(tmp_path, name, gz):
    data, reason = BAD[name]
    path = write(tmp_path / "t10k-images-idx3-ubyte", data, gz)
    with pytest.raises(IdxError) as error:
        read_idx(path)
    message = str(error.value)
    assert message.startswith("t10k-images-idx3-ubyte: ")
    assert reason in message
    assert "\n" not in message


def test_a_cut_gzip_stream_is_truncated(tmp_path):
    packed = gzip.compress(GOOD)
    path = write(tmp_path / "train-images-idx3-ubyte.gz", packed[: len(packed) // 2])
    with pytest.raises(IdxError, match=r"^train-images-idx3-ubyte.gz: truncated"):
        read_idx(path)


def test_damaged_gzip_data(tmp_path):
    packed = bytearray(gzip.compress(GOOD))
    packed[12:20] = b"\xff" * 8  # inside the deflate stream
    with pytest.raises(IdxError, match=r"^x.gz: "):
        read_idx(write(tmp_path / "x.gz", bytes(packed)))


def test_the_good_reference_file_is_good(tmp_path):
    # The BAD table's files are GOOD with one thing changed: GOOD itself must read.
    assert read_idx(write(tmp_path / "good", GOOD)).shape == (2, 28, 28)
