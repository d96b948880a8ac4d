#!/usr/bin/env python3
"""A NATS user NKey pair, made here (no tool on the machine makes them):
an Ed25519 key (python3-cryptography), encoded as NATS does it -- a prefix
byte naming the key's type, the key, a CRC-16/XMODEM of both in little
endian, all in base32 without padding.  The seed (the private half) has
two prefix bytes: 'S' (18 << 3) joined with the type 'U' (20 << 3), so it
reads "SU...", 58 characters; the public key one, "U...", 56 characters.
The server checks a signature made with the seed against the public key it
was given, so a publish that is accepted proves the encoding.

usage: nkey.py SEEDFILE   -> writes the seed to SEEDFILE (mode 0600),
                             prints the public key
       nkey.py --check    -> the CRC of a known vector, and a round trip"""
import base64, os, sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

PREFIX_SEED = 18 << 3
PREFIX_USER = 20 << 3


def crc16(data):  # CRC-16/XMODEM: polynomial 0x1021, initial 0
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021 if crc & 0x8000 else crc << 1) & 0xFFFF
    return crc


def encode(raw):
    return base64.b32encode(raw + crc16(raw).to_bytes(2, "little")).decode().rstrip("=")


def decode(text):
    raw = base64.b32decode(text + "=" * (-len(text) % 8))
    body, crc = raw[:-2], int.from_bytes(raw[-2:], "little")
    assert crc16(body) == crc, "bad CRC"
    return body


def pair():
    seed = os.urandom(32)
    pub = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    s = encode(bytes([PREFIX_SEED | PREFIX_USER >> 5, (PREFIX_USER & 31) << 3]) + seed)
    u = encode(bytes([PREFIX_USER]) + pub)
    return s, u


def nkey_sign(seed_text, data):
    """(public key, signature of data) as a client sends them in CONNECT"""
    raw = decode(seed_text)
    key = Ed25519PrivateKey.from_private_bytes(raw[2:])
    pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return encode(bytes([PREFIX_USER]) + pub), base64.urlsafe_b64encode(key.sign(data)).decode().rstrip("=")


def check():
    assert crc16(b"123456789") == 0x31C3, hex(crc16(b"123456789"))  # the XMODEM check value
    s, u = pair()
    assert s.startswith("SU") and len(s) == 58 and u.startswith("U") and len(u) == 56, (s[:2], len(s), u[:1], len(u))
    raw = decode(s)
    seed = raw[2:]
    pub = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert decode(u) == bytes([PREFIX_USER]) + pub
    print("nkey: CRC and round trip ok")


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        check()
    elif len(sys.argv) == 2:
        s, u = pair()
        fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, (s + "\n").encode())
        os.close(fd)
        print(u)
    else:
        sys.exit(__doc__)
