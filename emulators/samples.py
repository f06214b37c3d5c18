"""Tiny but valid sample files (JPEG, Ogg Opus, PDF), built in code: the sandbox's customer
sends them and the tests compare them byte for byte after a trip through the bridge."""

from __future__ import annotations

import math
import struct


def _segment(marker: int, body: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(body) + 2) + body


def jpeg(width: int = 160, height: int = 120) -> bytes:
    """A valid baseline greyscale JPEG, uniformly grey: every 8×8 block is "DC 0, end of block",
    coded with one-symbol Huffman tables (one bit each)."""
    blocks = math.ceil(width / 8) * math.ceil(height / 8)
    scan = bytearray(math.ceil(2 * blocks / 8))
    if (2 * blocks) % 8:
        scan[-1] |= (1 << (8 - (2 * blocks) % 8)) - 1  # pad the last byte with 1 bits
    one_code = bytes([1] + [0] * 15)  # one code of length 1
    return b"".join(
        (
            b"\xff\xd8",
            _segment(0xDB, b"\x00" + b"\x01" * 64),
            _segment(0xC0, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00"),
            _segment(0xC4, b"\x00" + one_code + b"\x00"),
            _segment(0xC4, b"\x10" + one_code + b"\x00"),
            _segment(0xDA, b"\x01\x01\x00\x00\x3f\x00"),
            bytes(scan),
            b"\xff\xd9",
        )
    )


def _ogg_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def ogg_opus() -> bytes:
    """One valid Ogg page (CRC included) holding an Opus identification header."""
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, 312, 48000, 0, 0)
    page = bytearray(b"OggS" + struct.pack("<BBqIII", 0, 2, 0, 0x5EED, 0, 0))
    page += bytes([1, len(head)]) + head
    struct.pack_into("<I", page, 22, _ogg_crc(bytes(page)))
    return bytes(page)


def pdf() -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
        b"trailer<</Root 1 0 R>>\n%%EOF\n"
    )
