#!/bin/sh
# SPDX-License-Identifier: ISC
# The docs agree with the code: the decimal of every CBOR tag is its hex (and
# the tags are protocol/msg.h's), every example address uses the one port,
# the companion rule in formats.md is the code's (companions/ only), the
# definitions guide names every YAML trap the parser refuses, and nothing
# in the build, the tests or the docs names a path outside the repository.
set -eu
. "$COFFER_SRC/tests/helpers.sh"
cd "$COFFER_SRC"
export TMP
python3 - <<'PY'
import glob, re, subprocess, sys

bad = []
docs = sorted(glob.glob("docs/*.md") + glob.glob("docs/man/*.[0-9]") + ["README.md"])
text = {p: open(p, encoding="utf-8").read() for p in docs}

# 1. CBOR tags: "tag DECIMAL (0xHEX" must agree, and msg.h's private tags are documented.
for p, t in text.items():
    for dec, hx in re.findall(r"tag (\d+) \((0x[0-9A-Fa-f]+)", t):
        if int(dec) != int(hx, 16):
            bad.append("%s: tag %s is not %s (= %d)" % (p, dec, hx, int(hx, 16)))
hdr = open("protocol/msg.h").read()
for name, val in re.findall(r"#define (MSG_TAG_\w+) (0x[0-9A-Fa-f]+|\d+)u?", hdr):
    v = int(val, 0)
    if not re.search(r"tag %d\b" % v, text["docs/protocol.md"]):
        bad.append("docs/protocol.md: %s (%s = %d) is not documented as 'tag %d'" % (name, val, v, v))

# 2. One port in every example address.
addr = re.compile(r"(?:\b\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:]*\]|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.example|\blocalhost):(\d+)\b")
ports = {}
for p, t in text.items():
    for m in addr.finditer(t):
        if t[max(0, m.start() - 8):m.start()] == '"peer":"':
            continue  # a client's source port in an audit record, not a service port
        ports.setdefault(m.group(1), []).append(p)
if len(ports) != 1:
    bad.append("example addresses use %d ports: %s" % (len(ports),
               "; ".join("%s in %s" % (k, sorted(set(v))) for k, v in sorted(ports.items()))))

# 3. The companion rule: only companions/ may seal, in formats.md and in the code.
f = text["docs/formats.md"]
if "companions/*_public.pem" not in f or "never accepts" not in f:
    bad.append("docs/formats.md does not state the strict companion rule")
if 'BUNDLE_COMPANIONS_DIR, &comps' not in open("appliance/state.c").read():
    bad.append("appliance/state.c does not take companions from companions/")

# 4. The definitions guide exists, is linked, and names each YAML trap.
try:
    d = open("docs/definitions.md", encoding="utf-8").read()
except OSError:
    d = ""
    bad.append("docs/definitions.md is missing")
if "docs/definitions.md" not in text["README.md"]:
    bad.append("README.md does not send readers to docs/definitions.md")
for trap in ["0042", "yes", "on", "off", "1:20", "0o17", "0x1F", "~", "1_000", "1e3",
             "LD_PRELOAD", "sha256:", "[clients]", "!!timestamp"]:
    if trap not in d:
        bad.append("docs/definitions.md does not mention %s" % trap)
for kind in ["String", "Integer", "Float", "Boolean", "Offset date-time", "Local date-time",
             "Local date", "Local time"]:
    if kind not in d:
        bad.append("docs/definitions.md has no example of %s" % kind)

# 5. Nothing tracked names a path outside the repository.
outside = ["../" + "shared", "/work" + "/", "shared/" + "DESIGN", "shared/" + "STYLE",
           "shared/" + "TOKENS"]
files = subprocess.run(["git", "ls-files"], capture_output=True, text=True).stdout.split()
if not files:
    bad.append("git ls-files listed nothing")
for p in files:
    if p.startswith("tests/data/"):
        continue
    try:
        t = open(p, encoding="utf-8", errors="replace").read()
    except OSError:
        continue
    for o in outside:
        if o in t:
            bad.append("%s names %s" % (p, o))

# 6. The guide's examples are real: its TOML and YAML definitions seal, and
#    each trap in its text block is refused with "quote it".
import os
tmp = os.environ["TMP"]
subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-out", tmp + "/comp.pem"], check=True, capture_output=True)
subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-out", tmp + "/appl.pem"], check=True, capture_output=True)
subprocess.run(["openssl", "pkey", "-in", tmp + "/appl.pem", "-pubout", "-out",
                tmp + "/appl_pub.pem"], check=True, capture_output=True)
blocks = re.findall(r"```(toml|yaml|text)\n(.*?)```", d, re.S)
if [b[0] for b in blocks] != ["toml", "yaml", "text"]:
    bad.append("docs/definitions.md: expected a toml, a yaml and a text block, got %s" %
               [b[0] for b in blocks])
for i, (kind, body) in enumerate(blocks):
    if kind == "text":
        head = "clients:\n  web: sha256:" + "ab" * 32 + "\nweb:\n"
        for line in body.splitlines():
            if not line.strip():
                continue
            path = "%s/trap%d.yaml" % (tmp, i)
            open(path, "w").write(head + "  " + line.split("#")[0].rstrip() + "\n")
            r = subprocess.run(["coffer-seal", "seal", "--companion", tmp + "/comp.pem",
                                "--recipient", tmp + "/appl_pub.pem", path, "-o",
                                tmp + "/trap.sealed"], capture_output=True, text=True)
            if r.returncode != 1 or "quote it" not in r.stderr:
                bad.append("docs/definitions.md trap not refused: %r (exit %d: %s)" %
                           (line, r.returncode, r.stderr.strip()))
        continue
    path = "%s/example%d.%s" % (tmp, i, kind)
    open(path, "w").write(body)
    r = subprocess.run(["coffer-seal", "seal", "--companion", tmp + "/comp.pem", "--recipient",
                        tmp + "/appl_pub.pem", path, "-o", path + ".sealed"],
                       capture_output=True, text=True)
    if r.returncode != 0 or "2 clients, 10 secrets" not in r.stderr:
        bad.append("docs/definitions.md %s example does not seal as 2 clients, 10 secrets: %s" %
                   (kind, r.stderr.strip()))

for b in bad:
    print("FAIL:", b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
echo ok
