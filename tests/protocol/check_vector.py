#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# An independent reading of tests/vectors/coffer-p256.json with Python's
# `cryptography`: recompute every frame of the worked example from the fixed
# keys (docs/protocol.md §3) and compare byte for byte.
import hashlib, hmac, json, os, struct, sys
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives import serialization

v = json.load(open(os.path.join(os.environ.get("COFFER_SRC", "."), "tests/vectors/coffer-p256.json")))
P = serialization.PublicFormat.UncompressedPoint
E = serialization.Encoding.X962

def priv(h): return ec.derive_private_key(int(h, 16), ec.SECP256R1())
def pub(k): return k.public_key().public_bytes(E, P)
def dh(k, p): return k.exchange(ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), p))
def H(*a): return hashlib.sha256(b"".join(a)).digest()
def hkdf(ck, ikm):
    t = hmac.new(ck, ikm, hashlib.sha256).digest()
    o1 = hmac.new(t, b"\x01", hashlib.sha256).digest()
    return o1, hmac.new(t, o1 + b"\x02", hashlib.sha256).digest()
def nonce(n): return b"\0" * 4 + struct.pack(">Q", n)

class SS:
    def __init__(s):
        s.h = v["protocol_name"].encode().ljust(32, b"\0"); s.ck = s.h; s.k = None; s.n = 0
    def mh(s, d): s.h = H(s.h, d)
    def mk(s, ikm): s.ck, s.k = hkdf(s.ck, ikm); s.n = 0
    def enc(s, pt):
        c = AESGCM(s.k).encrypt(nonce(s.n), pt, s.h); s.n += 1; s.mh(c); return c

sS, cS, cE, sE = (priv(v[k]) for k in ("server_static", "client_static", "client_ephemeral", "server_ephemeral"))
assert pub(sS).hex() == v["server_public"] and pub(cS).hex() == v["client_public"]
ss = SS(); ss.mh(b"coffer/1"); ss.mh(pub(sS))
ss.mh(pub(cE)); ss.mk(dh(cE, pub(sS)))
body = pub(cE) + ss.enc(pub(cS))
ss.mk(dh(cS, pub(sS)))
ns = v["timestamp_ns"]
body += ss.enc(struct.pack(">QI", 0x400000000000000a + ns // 10**9, ns % 10**9))
frame = lambda t, b: struct.pack(">HB", len(b), t) + b
assert frame(0x00, body).hex() == v["frame_hello"], "Hello"
h1, ck1 = ss.h, ss.ck
ss.mh(pub(sE)); ss.mk(dh(sE, pub(cE))); ss.mk(dh(sE, pub(cS)))
hs2 = (ss.h, ss.ck, ss.k)
link = pub(sE) + ss.enc(b"")
assert frame(0x01, link).hex() == v["frame_link"], "Link"
c1, c2 = hkdf(ss.ck, b"")
def seal(k, n, t, pt): return frame(t, AESGCM(k).encrypt(nonce(n), pt, bytes([t])))
get = b"\x82" + b"\x6b" + b"db_password" + b"\x64" + b"port"
assert seal(c1, 0, 0x02, get).hex() == v["frame_get"], "Get"
okget = (b"\x00\x82\xa2\x63key\x6bdb_password\x65value\x66s3cr3t"
         b"\xa2\x63key\x64port\x65value\x19\x15\x38")
assert seal(c2, 0, 0x03, okget).hex() == v["frame_okget"], "OkGet"
assert seal(c1, 1, 0x99, pub(cS)).hex() == v["frame_bye"], "Bye"
ss.h, ss.ck, ss.k = hs2; ss.n = 0
assert frame(0xaa, pub(sE) + ss.enc(pub(cS))).hex() == v["frame_key_not_found"], "KeyNotFound"
print("coffer-p256.json: all 6 frames recomputed independently")
