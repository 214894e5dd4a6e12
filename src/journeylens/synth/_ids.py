"""How synthetic identifiers look, built without a Python loop.

Ids are unique by construction: each is a 48-bit key ``(chunk << 28) | row`` pushed through a
seeded bijection of the 48-bit space (multiply by an odd constant, xor-shift), then written as
hex. Unique keys therefore give unique, random-looking ids, identical for the same seed, and
chunks never collide because the chunk index is part of the key.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from journeylens.synth._events import BoolArray, IntArray

UIntArray = npt.NDArray[np.uint64]

_MASK48 = np.uint64((1 << 48) - 1)
_MULTIPLIERS = (np.uint64(0x9E3779B97F4B), np.uint64(0xD6E8FEB86659))
_DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)
ROW_BITS = 28
"""Rows per chunk per id kind: 268 million, far above any chunk's event count."""
RESERVED_CHUNK = (1 << 20) - 1
"""Chunk field of ids that belong to no chunk (store kiosks)."""


def keys(chunk: int, rows: IntArray) -> UIntArray:
    """48-bit keys of ``rows`` within ``chunk``."""
    return (np.uint64(chunk) << np.uint64(ROW_BITS)) | rows.astype(np.uint64)


def salt(seed: int, kind: str) -> np.uint64:
    """A per-seed, per-id-kind 48-bit constant (no Python ``hash()``: stable across runs)."""
    entropy = [seed, *kind.encode()]
    return np.uint64(np.random.default_rng(entropy).integers(0, 1 << 48))


def scramble(key: UIntArray, salt_value: np.uint64) -> UIntArray:
    """Seeded bijection of the 48-bit space: distinct keys stay distinct."""
    x = (key ^ salt_value) & _MASK48
    for multiplier, shift in zip(_MULTIPLIERS, (np.uint64(23), np.uint64(19)), strict=True):
        x = (x * multiplier) & _MASK48  # wraps mod 2^64 first, so this is mod 2^48
        x = x ^ (x >> shift)
    return x


def _fixed_width(chars: npt.NDArray[np.uint8]) -> pa.StringArray:
    """Strings of equal byte width from a ``(rows, width)`` ASCII matrix, zero-copy into Arrow."""
    rows, width = chars.shape
    offsets = np.arange(rows + 1, dtype=np.int64) * width
    if offsets[-1] >= np.iinfo(np.int32).max:
        raise OverflowError("chunk too large for 32-bit string offsets; use smaller chunks")
    data = np.ascontiguousarray(chars)
    return pa.StringArray.from_buffers(rows, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data))


_HEX_PAIRS = np.array([[ord(c) for c in f"{i:02x}"] for i in range(256)], dtype=np.uint8)


def _nibbles(values: UIntArray, count: int) -> npt.NDArray[np.uint8]:
    """The lowest ``count`` (even) hex digits of each value as ASCII, via a byte lookup table."""
    low_bytes = values.astype(">u8").view(np.uint8).reshape(-1, 8)[:, 8 - count // 2 :]
    return _HEX_PAIRS[low_bytes].reshape(len(values), count)


def _with_prefix(prefix: str, body: npt.NDArray[np.uint8]) -> pa.StringArray:
    head = np.frombuffer(prefix.encode(), dtype=np.uint8)
    chars = np.empty((len(body), len(head) + body.shape[1]), dtype=np.uint8)
    chars[:, : len(head)] = head
    chars[:, len(head) :] = body
    return _fixed_width(chars)


def hex_ids(prefix: str, key: UIntArray, salt_value: np.uint64) -> pa.StringArray:
    """``prefix`` + 12 hex digits, e.g. ``e3f09a2b71c4d``."""
    return _with_prefix(prefix, _nibbles(scramble(key, salt_value), 12))


def decimal_ids(prefix: str, values: IntArray, digits: int) -> pa.StringArray:
    """``prefix`` + zero-padded decimal, e.g. ``u00000042`` (``values`` < 10**digits)."""
    powers = 10 ** np.arange(digits - 1, -1, -1, dtype=np.int64)
    body = _DIGITS[(values[:, None] // powers) % 10]
    return _with_prefix(prefix, body)


def uuid_ids(key: UIntArray, salt_value: np.uint64) -> pa.StringArray:
    """Version-4-shaped UUIDs, as Segment SDKs use for anonymousId; unique per key."""
    unique = _nibbles(scramble(key, salt_value), 12)
    noise = _nibbles(scramble(key, salt_value ^ np.uint64(0x5A5A5A5A5A5A)), 12)
    more = _nibbles(scramble(key, salt_value ^ np.uint64(0x0F0F0F0F0F0F)), 8)
    dash = np.full((len(key), 1), ord("-"), dtype=np.uint8)
    four = np.full((len(key), 1), ord("4"), dtype=np.uint8)
    variant = np.frombuffer(b"89ab", dtype=np.uint8)[(more[:, 3] % 4).astype(np.intp)][:, None]
    chars = np.hstack(
        [noise[:, :8], dash, noise[:, 8:12], dash, four, more[:, :3], dash, variant,
         more[:, 4:7], dash, unique]
    )  # fmt: skip
    return _fixed_width(chars)


def take(strings: pa.Array, index: IntArray, valid: BoolArray | None = None) -> pa.Array:
    """``strings[index]``, null where ``valid`` is false.

    Indices are passed to Arrow as int64: its ``take`` is several times slower with the int8 and
    int16 codes the simulators use.
    """
    positions = np.asarray(index, dtype=np.int64)
    if valid is None:
        return strings.take(pa.array(positions))
    return strings.take(pa.array(np.where(valid, positions, 0), mask=~valid))


def join_present(parts: list[pa.Array], separator: str) -> pa.Array:
    """Join the non-null entries of each row with ``separator`` ("" when all are null).

    ``binary_join_element_wise(..., null_handling="skip")`` drops rows whose inputs are all
    null in pyarrow 26, so the separator is prepended to present parts and the first one cut.
    """
    empty = pa.scalar("", pa.string())
    prefixed = [pc.fill_null(pc.binary_join_element_wise(separator, p, ""), empty) for p in parts]
    joined = pc.binary_join_element_wise(*prefixed, "")
    return pc.utf8_slice_codeunits(joined, len(separator))
