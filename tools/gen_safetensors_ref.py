#!/usr/bin/env python3
"""Writes tests/data/ref.safetensors, the reference file of tests/test_safetensors.c.

The Python `safetensors` library (and a torch that ships it) is not packaged
for this Debian, so the bytes are produced here from the documented format
alone, laid out the way the reference library's serializer does it:
  - 8-byte little-endian header length N, N bytes of JSON, then the data;
  - JSON without spaces, "__metadata__" first, then the tensors in data order;
  - tensors ordered by element size (largest first), then by name;
  - the header padded with spaces to a multiple of 8 bytes.
Only the standard library (json, struct) is used.

Usage: tools/gen_safetensors_ref.py tests/data/ref.safetensors
"""
import json
import struct
import sys

SIZES = {"F64": 8, "I64": 8, "F32": 4, "I32": 4, "F16": 2, "BF16": 2, "I16": 2,
         "I8": 1, "U8": 1, "BOOL": 1}

# name -> (dtype, shape, little-endian bytes); the values are checked by the test
TENSORS = {
    "layer1.0.conv1.weight": ("F32", [2, 3, 1, 1],
                              struct.pack("<6f", *[k * 0.5 - 1.0 for k in range(6)])),
    "scalar": ("F32", [], struct.pack("<f", 3.25)),
    "bn.running_var": ("F64", [3], struct.pack("<3d", 0.1, 0.2, 1e300)),
    "idx": ("I64", [2, 2], struct.pack("<4q", 1, -2, 3, -(2 ** 62))),
    "counts": ("I32", [3], struct.pack("<3i", 7, -8, 2 ** 31 - 1)),
    "fc.bias": ("F16", [2], struct.pack("<2H", 0x3C00, 0xC000)),    # 1.0, -2.0
    "emb": ("BF16", [2], struct.pack("<2H", 0x3F80, 0x3F00)),       # 1.0, 0.5
    "small": ("I16", [2], struct.pack("<2h", -300, 300)),
    "tiny": ("I8", [3], struct.pack("<3b", -1, 0, 127)),
    "mask": ("BOOL", [4], bytes([1, 0, 1, 1])),
    "empty": ("U8", [0, 5], b""),
    "pixels": ("U8", [2, 1], bytes([0, 255])),
}
METADATA = {"format": "pt", "note": "geoloc reference, caf\u00e9"}


def main() -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/ref.safetensors"
    order = sorted(TENSORS, key=lambda n: (-SIZES[TENSORS[n][0]], n))
    header = {"__metadata__": METADATA}
    data = b""
    for name in order:
        dtype, shape, raw = TENSORS[name]
        count = 1
        for d in shape:
            count *= d
        assert len(raw) == count * SIZES[dtype], name
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(out, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


if __name__ == "__main__":
    main()
