#!/usr/bin/env python3
"""Writes synthetic GeoEstimation msgpack shards for tests/cli_dataset_import.sh.

Usage: msgpack_shards.py META.csv IMAGES_DIR COUNT OUT_DIR

Takes the first COUNT rows of META.csv (GeoEstimation's IMG_ID,AUTHOR,LAT,LON,...)
whose photo IMAGES_DIR/IMG_ID exists and writes, as GeoEstimation's download
tooling does (msgpack.Packer, one map per photo with "id" and "image" and here
an extra "meta" key), three shards into OUT_DIR:
  a.msgpack  the first third of the photos, a record without "image", one that
             is not a map (an array), one whose id is not in the meta;
  b.msgpack  the second third, a record whose "image" is not a photo, a
             duplicate of a.msgpack's first record;
  c.msgpack  the last third, then a record cut off half-way (truncated end).
It prints the counts an import must report, as "imported N not_in_meta N
corrupt N duplicates N cut_off N", and lists the imported IMG_IDs in
OUT_DIR/imported.txt (one a line, meta order).
"""
import csv
import os
import sys

import msgpack


def main():
    meta, images, count, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    rows = []
    with open(meta, newline="") as f:
        for row in csv.DictReader(f):
            if os.path.isfile(os.path.join(images, row["IMG_ID"])):
                rows.append(row)
            if len(rows) == count:
                break
    if len(rows) < 6:
        sys.exit("msgpack_shards.py: fewer than 6 photos found")
    packer = msgpack.Packer(use_bin_type=True)

    def record(row):
        with open(os.path.join(images, row["IMG_ID"]), "rb") as f:
            image = f.read()
        return packer.pack({"id": row["IMG_ID"], "image": image,
                            "meta": {"author": row.get("AUTHOR", ""), "lat": float(row["LAT"])}})

    third = len(rows) // 3
    parts = [rows[:third], rows[third:2 * third], rows[2 * third:]]
    shards = [[record(r) for r in p] for p in parts]
    # a: a record without an image, one that is not a map, an id not in the meta
    shards[0].insert(1, packer.pack({"id": "no/image.jpg", "other": 1}))
    shards[0].append(packer.pack([1, 2, 3]))
    with open(os.path.join(images, rows[0]["IMG_ID"]), "rb") as f:
        shards[0].append(packer.pack({"id": "not/in/meta.jpg", "image": f.read()}))
    # b: an image that is not a photo, a duplicate of a's first photo
    shards[1].insert(0, packer.pack({"id": parts[1][0]["IMG_ID"], "image": b"not a photo at all"}))
    shards[1].append(record(parts[0][0]))
    # c: a record cut off half-way
    last = record(parts[2][0])
    shards[2].append(last[: len(last) // 2])
    for name, recs in zip("abc", shards):
        with open(os.path.join(out, name + ".msgpack"), "wb") as f:
            f.write(b"".join(recs))
    with open(os.path.join(out, "imported.txt"), "w") as f:
        for r in rows:
            f.write(r["IMG_ID"] + "\n")
    print("imported %d not_in_meta 1 corrupt 3 duplicates 1 cut_off 1" % len(rows))


main()
