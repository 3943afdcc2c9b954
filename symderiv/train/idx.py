"""A reader for the IDX file format of the MNIST distribution (plain or gzip).

Layout (all integers big-endian)::

    bytes 0-1   zero
    byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                0x0D float32, 0x0E float64
    byte  3     number of dimensions d (1..MAX_DIMS)
    then d      uint32 sizes
    then        prod(sizes) elements, row-major

Everything is checked before the payload is trusted: the zero bytes, the type
code, the dimension count, the sizes, and that the payload is exactly as long
as the header says (a truncated file or trailing garbage is an error). A gzip
file is decompressed only up to the size the header promises plus one byte, so
a decompression bomb cannot exhaust memory. Every problem is an
:class:`~symderiv.errors.InputError` naming the file.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from symderiv.errors import InputError

#: type code -> big-endian numpy dtype
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
MAX_DIMS = 8
#: memory a file may take once loaded: payload + native copy + float32 values.
#: The full MNIST training images (47 MB) take 282 MB; the CLI's whole process
#: is capped at 1.5 GiB.
MAX_LOADED_BYTES = 512 * 2**20


def loaded_bytes(itemsize: int, elements: int) -> int:
    """What reading and converting ``elements`` values of ``itemsize`` bytes costs."""
    return 2 * itemsize * elements + 4 * elements

GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class IdxHeader:
    type_code: int
    dtype: np.dtype
    shape: tuple[int, ...]

    @property
    def payload_bytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize

    @property
    def magic(self) -> int:
        """The 32-bit magic number, e.g. 0x00000803 for uint8 images (3 dims)."""
        return (self.type_code << 8) | len(self.shape)


def _read_exactly(stream: BinaryIO, count: int, path: Path, what: str) -> bytes:
    data = stream.read(count)
    if len(data) != count:
        raise InputError(f"{path}: truncated IDX file: {what} needs {count} bytes, found {len(data)}")
    return data


def _read_header(stream: BinaryIO, path: Path) -> IdxHeader:
    magic = _read_exactly(stream, 4, path, "the magic number")
    if magic[0] != 0 or magic[1] != 0:
        raise InputError(
            f"{path}: not an IDX file (magic number 0x{magic.hex()} does not start with two zero bytes)"
        )
    type_code, ndim = magic[2], magic[3]
    if type_code not in IDX_DTYPES:
        known = ", ".join(f"0x{code:02X}" for code in IDX_DTYPES)
        raise InputError(f"{path}: unknown IDX element type 0x{type_code:02X} (known: {known})")
    if not 1 <= ndim <= MAX_DIMS:
        raise InputError(f"{path}: IDX header declares {ndim} dimensions (expected 1 to {MAX_DIMS})")
    sizes = struct.unpack(f">{ndim}I", _read_exactly(stream, 4 * ndim, path, f"{ndim} dimension sizes"))
    header = IdxHeader(type_code, IDX_DTYPES[type_code], tuple(int(s) for s in sizes))
    # Python ints: no overflow however large the declared sizes are.
    elements = 1
    for size in header.shape:
        elements *= size
    needed = loaded_bytes(header.dtype.itemsize, elements)
    if needed > MAX_LOADED_BYTES:
        raise InputError(
            f"{path}: IDX header declares sizes {list(header.shape)}, which would take "
            f"{needed / 2**20:.0f} MiB of memory once loaded; the limit is {MAX_LOADED_BYTES // 2**20} MiB"
        )
    return header


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as raw:
        return raw.read(2) == GZIP_MAGIC


def read_idx(path: str | Path) -> np.ndarray:
    """The array stored in an IDX file (gzip-compressed or not), in native byte order."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    compressed = False
    try:
        compressed = _is_gzip(path)
        opener = gzip.open if compressed else open
        with opener(path, "rb") as stream:
            header = _read_header(stream, path)
            expected = header.payload_bytes
            payload = stream.read(expected + 1)
    except InputError:
        raise
    except (OSError, EOFError, zlib.error) as exc:
        # gzip.BadGzipFile is an OSError; EOFError is a cut-off gzip stream.
        kind = "corrupt gzip data" if compressed else "cannot read"
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: {kind}: {detail}") from None
    if len(payload) < expected:
        raise InputError(
            f"{path}: truncated IDX file: header sizes {list(header.shape)} need {expected} data bytes, "
            f"found {len(payload)}"
        )
    if len(payload) > expected:
        raise InputError(
            f"{path}: size mismatch: more data than the header sizes {list(header.shape)} allow "
            f"({expected} bytes)"
        )
    array = np.frombuffer(payload, dtype=header.dtype).reshape(header.shape)
    return array.astype(header.dtype.newbyteorder("="))


def write_idx(path: str | Path, array: np.ndarray, *, compress: bool = False) -> None:
    """Write ``array`` as an IDX file (used by the tests to make small datasets)."""
    array = np.asarray(array)
    codes = {dtype.newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes:
        raise ValueError(f"dtype {array.dtype} has no IDX type code")
    if not 1 <= array.ndim <= MAX_DIMS:
        raise ValueError(f"IDX holds 1 to {MAX_DIMS} dimensions, got {array.ndim}")
    header = bytes([0, 0, codes[native], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + np.ascontiguousarray(array, dtype=native.newbyteorder(">")).tobytes()
    data = gzip.compress(payload, mtime=0) if compress else payload
    Path(path).write_bytes(data)
