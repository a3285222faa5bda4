#!/usr/bin/env python3
"""Synthetic GeoEstimation msgpack shards for tests/cli_dataset_import.sh,
and an independent reader of the pack an import makes of them.

Usage: msgpack_shards.py write META.csv IMAGES_DIR COUNT OUT_DIR
       msgpack_shards.py check PACK_DIR META.csv IMAGES_DIR IMPORTED.txt

write takes the first COUNT rows of META.csv (GeoEstimation's IMG_ID,AUTHOR,LAT,LON,...)
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

check reads PACK_DIR/index.bin and its shards as src/dataset/shard.c
documents them and compares every photo with its file (byte for byte) and
its row of META.csv (LAT, LON, AUTHOR, labels); the IMG_IDs must be those
of IMPORTED.txt. It prints "ok N" (N photos), or what differs and exits 1.
"""
import csv
import os
import struct
import sys

import msgpack


def write(meta, images, count, out):
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


def check(pack, meta, images, imported):
    with open(meta, newline="") as f:
        rows = {r["IMG_ID"]: r for r in csv.DictReader(f)}
    with open(os.path.join(pack, "index.bin"), "rb") as f:
        index = f.read()
    (magic, version, _, _, n_shards, n_photos, text_size, set_id, columns, side, quality,
     _) = struct.unpack_from("<8sIIIIQQQIiII", index, 0)
    problems = []
    if magic != b"GEOLOCIX" or side != -1 or quality != 0:
        problems.append("header: %r side %d quality %d" % (magic, side, quality))
    text = index[64 + 64 * n_photos + 16 * n_shards:]
    shards = []
    for k in range(n_shards):
        with open(os.path.join(pack, "shard-%05d.bin" % k), "rb") as f:
            shards.append(f.read())
        if struct.unpack_from("<8sIIQ", shards[k], 0) != (b"GEOLOCSH", 1, k, set_id):
            problems.append("shard %d: bad header" % k)
    ids = []
    for k in range(n_photos):
        (offset, size, shard, lat, lng, at, id_len, author_len, _, width, height, s3, s16,
         s365, _) = struct.unpack_from("<QIIddQHHIIIhhhH", index, 64 + 64 * k)
        photo_id = text[at:at + id_len].decode()
        author = text[at + id_len + 1:at + id_len + 1 + author_len].decode()
        ids.append(photo_id)
        row = rows.get(photo_id)
        with open(os.path.join(images, photo_id), "rb") as f:
            original = f.read()
        if shards[shard][offset:offset + size] != original:
            problems.append("%s: bytes differ from its file" % photo_id)
        if (row is None or lat != float(row["LAT"]) or lng != float(row["LON"]) or author != row["AUTHOR"]
                or (s3, s16, s365) != (int(row["S3_Label"]), int(row["S16_Label"]), int(row["S365_Label"]))
                or width <= 0 or height <= 0):
            problems.append("%s: record differs from the meta row" % photo_id)
    with open(imported) as f:
        want = f.read().split()
    if sorted(ids) != sorted(want):
        problems.append("ids: %d in the pack, %d expected, %d in common" %
                        (len(ids), len(want), len(set(ids) & set(want))))
    if problems:
        print("\n".join(problems))
        sys.exit(1)
    print("ok %d" % n_photos)


if sys.argv[1] == "write":
    write(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
else:
    check(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
