"""IDX, the file format of MNIST and Fashion-MNIST (LeCun's "THE IDX FILE FORMAT"), read with
numpy: one array per file, gzip-compressed or not.

A file is a 4-byte magic number 0x0000TTDD (TT: the element type's code, DD: the number of
dimensions), DD big-endian uint32 sizes, then the elements in C order, big-endian. Everything
is checked before anything is trusted: the two zero bytes, a known type code, at least one
dimension, and that exactly the announced number of bytes follows the header, so a truncated
download or a file of another kind fails with its name and what is wrong, never with numpy's
own words or a silently short array.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

# The type codes of the format and the (big-endian) numpy dtypes they stand for.
TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"


class IdxError(ValueError):
    """A file that is not a whole IDX array; the message starts with the file's name."""


def _contents(path: Path) -> bytes:
    """The file's bytes, decompressed when it is gzip (told by its magic, not its name)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
        if raw[:2] != _GZIP_MAGIC:
            return raw
        return gzip.decompress(raw)
    except EOFError:  # gzip's word for a stream cut short
        raise IdxError(f"{path.name}: truncated (the gzip stream ends early)") from None
    except (gzip.BadGzipFile, zlib.error) as error:
        raise IdxError(f"{path.name}: damaged gzip data ({error})") from None
    except OSError as error:
        raise IdxError(f"{path.name}: cannot be read ({error.strerror or error})") from None


def read_idx(path: str | Path) -> np.ndarray:
    """The array stored in the IDX file ``path``, in native byte order."""
    path = Path(path)
    raw = _contents(path)
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] not in TYPES or raw[3] == 0:
        magic = raw[:4].hex() if len(raw) >= 4 else f"only {len(raw)} bytes"
        codes = ", ".join(f"{c:02x}" for c in TYPES)
        raise IdxError(f"{path.name}: not an IDX file (magic number {magic}; an IDX file "
                       f"starts 0000TTDD with a type code TT in {codes} and DD >= 1 dimensions)")
    dtype, ndim = np.dtype(TYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IdxError(f"{path.name}: truncated (the header of {ndim} dimensions needs "
                       f"{header} bytes, the file has {len(raw)})")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    need, have = math.prod(shape) * dtype.itemsize, len(raw) - header
    if have < need:
        raise IdxError(f"{path.name}: truncated ({have} bytes of data, its header announces "
                       f"{'x'.join(map(str, shape))} {dtype.name} = {need} bytes)")
    if have > need:
        raise IdxError(f"{path.name}: {have - need} bytes more than its header announces "
                       f"({'x'.join(map(str, shape))} {dtype.name}): not one IDX array")
    array = np.frombuffer(raw, dtype, count=math.prod(shape), offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=False)  # uint8: the bytes themselves
