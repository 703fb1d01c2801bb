"""Identifiers drawn from the generator's random stream, built as Arrow string arrays without a
Python object per value (10 million UUIDs take seconds, not minutes)."""

from __future__ import annotations

import binascii

import numpy as np
import pyarrow as pa

_CHUNK = 1 << 16
_DASH = ord("-")


def random_uuid_words(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` random version-4 UUIDs as (high, low) 64-bit words. Comparing (high, low) orders the
    UUIDs as their canonical lower-case strings sort."""
    words = rng.bit_generator.random_raw(2 * n).reshape(2, n)
    high = (words[0] & np.uint64(0xFFFF_FFFF_FFFF_0FFF)) | np.uint64(0x4000)  # version 4
    low = (words[1] & np.uint64(0x3FFF_FFFF_FFFF_FFFF)) | np.uint64(0x8000_0000_0000_0000)  # RFC 4122
    return high, low


def uuid_strings(high: np.ndarray, low: np.ndarray, valid: np.ndarray | None = None) -> pa.StringArray:
    """Canonical UUID strings (8-4-4-4-12, lower case) of (high, low) words; null where
    `valid` is False."""
    n = len(high)
    out = np.empty((n, 36), dtype=np.uint8)
    for start in range(0, n, _CHUNK):
        stop = min(start + _CHUNK, n)
        words = np.empty((stop - start, 2), dtype=">u8")
        words[:, 0] = high[start:stop]
        words[:, 1] = low[start:stop]
        hexed = np.frombuffer(binascii.hexlify(words.tobytes()), dtype=np.uint8).reshape(-1, 32)
        block = out[start:stop]
        block[:, 0:8] = hexed[:, 0:8]
        block[:, 9:13] = hexed[:, 8:12]
        block[:, 14:18] = hexed[:, 12:16]
        block[:, 19:23] = hexed[:, 16:20]
        block[:, 24:36] = hexed[:, 20:32]
        block[:, [8, 13, 18, 23]] = _DASH
    return fixed_width_strings(out, valid)


def fixed_width_strings(chars: np.ndarray, valid: np.ndarray | None = None) -> pa.StringArray:
    """An Arrow string array over the rows of a (n, width) uint8 array of ASCII characters
    (null rows keep their characters in the buffer, as Arrow allows)."""
    n, width = chars.shape
    offsets = np.arange(0, width * (n + 1), width, dtype=np.int64)
    return strings_from_buffers(offsets, np.ascontiguousarray(chars), valid)


def strings_from_buffers(offsets: np.ndarray, data: np.ndarray | bytes, valid: np.ndarray | None) -> pa.StringArray:
    """An Arrow string array from offsets (n + 1, int64), UTF-8 bytes and a validity mask."""
    if offsets[-1] >= 2**31:
        raise ValueError("more than 2 GiB of strings in one array; generate fewer events per run")
    validity = None if valid is None or valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(
        pa.string(), len(offsets) - 1, [validity, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data)]
    )


def numbered_strings(prefix: str, numbers: np.ndarray, valid: np.ndarray) -> pa.StringArray:
    """`prefix` + the decimal number where `valid`, null elsewhere. The valid numbers must have
    one digit count; their digits are computed as arrays, and null rows take no bytes."""
    valid = valid & (numbers >= 0)
    values = numbers[valid].astype(np.int64)
    width = len(str(int(values.max(initial=0))))
    if len(values) and len(str(int(values.min()))) != width:
        raise ValueError("numbered ids must all have the same number of digits")
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    chars = np.empty((len(values), len(prefix) + width), dtype=np.uint8)
    chars[:, : len(prefix)] = np.frombuffer(prefix.encode(), dtype=np.uint8)
    for start in range(0, len(values), _CHUNK):
        block = values[start : start + _CHUNK, None]
        chars[start : start + len(block), len(prefix) :] = block // powers % 10 + ord("0")
    offsets = np.concatenate([[0], np.cumsum(np.where(valid, chars.shape[1], 0))])
    return strings_from_buffers(offsets, chars, valid)
