#!/usr/bin/env python3
"""Writes the fuzz harnesses' seed corpora (tests/fuzz/corpus/<harness>/):
typical and edge inputs of each parser, so libFuzzer starts from the shapes
Roost really sees. Run it again after changing it; the files are committed.
Needs pymongo's bson and PyJWT (tests/requirements.txt)."""
import hashlib
import os
import sys

import json

import bson
import jwt

HERE = os.path.dirname(os.path.abspath(__file__))
DEV_SECRET = "roost-development-secret-do-not-use-in-production"


def token(**claims):
    base = {"sub": "42", "iat": 1700000000, "exp": 1800000000, "gen": 0, "jti": "0" * 32}
    base.update(claims)
    return jwt.encode(base, DEV_SECRET, algorithm="HS256")


USER = {"username": "ada", "password": "correct horse", "first_name": "Ada", "last_name": "Lovelace",
        "birth_date": "1990-12-10", "email": "ada@example.org", "place_id": 1}
PROPERTY = {"name": "Loft", "city": "Zürich", "type": "apartment", "address": "Main 1",
            "characteristics": {"balcony": True, "floor": 3},
            "rooms": [{"name": "Kitchen", "size_m2": 12.5}, {"name": "Bed", "size_m2": 9}]}

SEEDS = {
    "json": [b'{}', b'{"a":1}', b'[1,2,3]', b'{"s":"\\u00e9\\ud83d\\ude00","n":-1.5e300,"t":true,"z":null}',
             b'{"nested":{"deep":[{"x":[[]]}]}}', b'{"a":1,"a":2}', b'{"$date":1}', b'{"big":123456789012345678901}',
             b'"just a string"', b'{"x":"\\u0000"}'] + [json.dumps(d, ensure_ascii=False).encode() for d in (USER, PROPERTY)],
    "query": [b"\x00/api/v1/users?page=2&per_page=10&order_by=-created_at",
              b"\x02/api/v1/properties/12/rooms/3", b"\x01/api/v1/users",
              b"\x00/api/v1/properties?city=Z%C3%BCrich&min_rooms=1&max_rooms=4",
              b"\x01/users?username=a&password=b&first_name=%E2%82%AC+x",
              b"\x00/listings?page_num=1&page_size=10&user_id=1", b"\x03/api/v1/bookings/7",
              b"\x00/api/v1/users?id=1,2,3&id=4", b"\x00/%zz?%&&=&a=%41%4"],
    "headers": [b'"1"', b'"1", "2", W/"3"', b"*", b'W/"3"', ("Bearer " + token()).encode(),
                ("bearer   " + token(sub="9223372036854775807")).encode(), token(gen=3).encode(),
                b"Bearer a.b.c", b"application/json; charset=utf-8", b"application/merge-patch+json",
                b"gzip, br;q=0.5, *;q=0", b"identity;q=0", b'"' + b"9" * 40 + b'"'],
    "dates": [b"2026-12-01|2026-12-05", b"2024-02-29|2024-03-01", b"2023-02-29", b"0000-01-01|9999-12-31",
              b"2026-13-01", b"2026-1-1", b"2026-12-01|2026-12-01"],
    "envelope": [
        bson.encode({"v": 1, "op": "sys.ping"}),
        bson.encode({"v": 1, "minor": 1, "op": "users.get", "rid": "r1", "params": {"id": "1"}}),
        bson.encode({"v": 1, "op": "users.me", "auth": {"sub": 3, "token": token()}, "client": {"addr": "::1"}}),
        bson.encode({"v": 1, "op": "properties.update", "expect_version": [1, 2], "body": {"name": "x"}}),
        bson.encode({"v": 1, "op": "properties.update", "if_match": '"4"', "params": {"id": 4}}),
        bson.encode({"v": 1, "rid": "r", "status": 429, "error": {"code": "c", "message": "m"}, "retry_after": 3,
                     "rate_limit": {"policy": "user", "quota": 5, "window": 60, "remaining": 0, "reset": 9}}),
        bson.encode({"v": 1, "rid": "r", "status": 200, "body": {"items": [{"id": 1}]}}),
        bson.encode({"v": 1, "op": "users.list", "query": {"page": "2", "a": "1"}, "body": {"a": 1, "a ": 2}}),
    ],
}


def ops_seeds():
    docs = [{"params": {"id": "1"}}, {"body": USER}, {"body": PROPERTY, "auth": {"sub": 1}},
            {"query": {"page": "1", "per_page": "5", "order_by": "-created_at"}},
            {"params": {"id": "1"}, "body": {"check_in": "2030-01-01", "check_out": "2030-01-03"},
             "auth": {"sub": 1}},
            {"body": {"listing_type": "rent", "price": 1000, "property_id": 1}, "auth": {"sub": 1}}]
    return [bytes([i]) + bson.encode(d) for i in range(48) for d in docs]


def odata_seeds():
    """The cross-check corpus as $filters of both resources (first byte 0, 1),
    and $orderby (2, 3) and $select (4, 5) values."""
    with open(os.path.join(HERE, "..", "odata", "filters.txt"), encoding="utf-8") as f:
        filters = [line.rstrip("\n") for line in f if line.strip() and not line.startswith("#")]
    geo = ["geo.distance(location, geography'POINT(2.35 48.85)') lt 2000",
           "2000 ge geo.distance(location,geography'SRID=4326;POINT(-179.9 -16.5)')",
           "geo.intersects(location, geography'POLYGON((2 48, 2.1 48, 2.1 48.1, 2 48))') eq false",
           "not geo.intersects(location, geography'POLYGON((0 0, 1 1, 1 0, 0 1, 0 0))')"]
    seeds = [bytes([i]) + t.encode() for t in filters + geo for i in (0, 1)]
    for value in ("price desc, created_at", "name asc,id desc", "city", "price sideways", "x,,y", "",
                  "geo.distance(location, geography'POINT(2 48)') asc", "geo.distance(location, 'x'), name"):
        seeds += [bytes([2]) + value.encode(), bytes([3]) + value.encode()]
    for value in ("price,listing_type", "*", "name, city, rooms", "secret", "a,"):
        seeds += [bytes([4]) + value.encode(), bytes([5]) + value.encode()]
    return seeds


def main():
    SEEDS["ops"] = ops_seeds()
    SEEDS["odata"] = odata_seeds()
    for name, inputs in SEEDS.items():
        folder = os.path.join(HERE, "corpus", name)
        os.makedirs(folder, exist_ok=True)
        for data in inputs:
            path = os.path.join(folder, "seed-" + hashlib.sha1(data).hexdigest()[:16])
            with open(path, "wb") as f:
                f.write(data)
        print(f"{name}: {len(inputs)} seeds", file=sys.stderr)


if __name__ == "__main__":
    main()
