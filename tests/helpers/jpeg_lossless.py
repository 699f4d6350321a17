"""A minimal JPEG Lossless (Process 14, first-order prediction, SV1) encoder, to make test DICOMs.

ITU T.81 Annex H: one component, predictor 1, point transform 0, one Huffman
table giving all 17 difference categories a 5-bit code.
"""

from __future__ import annotations

import struct

import numpy as np

_CODE_LENGTH = 5


def _marker(code: int, payload: bytes) -> bytes:
    return struct.pack(">HH", 0xFF00 | code, len(payload) + 2) + payload


class _Bits:
    def __init__(self) -> None:
        self.out, self.acc, self.n = bytearray(), 0, 0

    def put(self, value: int, length: int) -> None:
        for shift in range(length - 1, -1, -1):
            self.acc = (self.acc << 1) | ((value >> shift) & 1)
            self.n += 1
            if self.n == 8:
                self.out.append(self.acc)
                if self.acc == 0xFF:
                    self.out.append(0x00)
                self.acc, self.n = 0, 0

    def flush(self) -> bytes:
        if self.n:
            self.put((1 << (8 - self.n)) - 1, 8 - self.n)
        return bytes(self.out)


def _predictions(image: np.ndarray, precision: int) -> np.ndarray:
    img = image.astype(np.int64)
    pred = np.empty_like(img)
    pred[0, 0] = 1 << (precision - 1)
    pred[0, 1:] = img[0, :-1]
    pred[1:, 0] = img[:-1, 0]
    pred[1:, 1:] = img[1:, :-1]
    return pred


def encode(image: np.ndarray, precision: int = 16) -> bytes:
    """JPEG Lossless SV1 bitstream of a 2-D unsigned integer image."""
    rows, cols = image.shape
    diff = (image.astype(np.int64) - _predictions(image, precision)) % 65536
    diff = np.where(diff >= 32768, diff - 65536, diff)
    bits = _Bits()
    for d in diff.ravel():
        d = int(d)
        ssss = 16 if d == -32768 or d == 32768 else (abs(d).bit_length())
        bits.put(ssss, _CODE_LENGTH)
        if 0 < ssss < 16:
            bits.put(d if d > 0 else (d - 1) & ((1 << ssss) - 1), ssss)
    counts = bytes(17 if i == _CODE_LENGTH - 1 else 0 for i in range(16))
    dht = _marker(0xC4, b"\x00" + counts + bytes(range(17)))
    sof = _marker(0xC3, struct.pack(">BHHB", precision, rows, cols, 1) + b"\x01\x11\x00")
    sos = _marker(0xDA, b"\x01\x01\x00" + b"\x01\x00\x00")
    return b"\xff\xd8" + dht + sof + sos + bits.flush() + b"\xff\xd9"
