#!/usr/bin/python3
"""Validate captured MQTT vector files and report coverage.

    /usr/bin/python3 check_vectors.py [--markdown] [FILE_OR_DIR ...]

Defaults to every *.txt vector file in tests/vectors/.  For each file it
checks the header (`# version:` must be 3.1, 3.1.1 or 5.0) and that every
packet line is `c2s|s2c <lowercase hex>` holding exactly one complete MQTT
packet (remaining length == bytes present).  It then decodes each packet's
variable header/payload (including MQTT 5 properties) strictly enough to
notice trailing or missing bytes, and prints a coverage table of packet
type x protocol version plus the MQTT 5 properties seen.  Exits 1 on any
error.  Standard library only.
"""

import argparse
import collections
import glob
import os
import re
import sys

TYPES = {1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC",
         6: "PUBREL", 7: "PUBCOMP", 8: "SUBSCRIBE", 9: "SUBACK",
         10: "UNSUBSCRIBE", 11: "UNSUBACK", 12: "PINGREQ", 13: "PINGRESP",
         14: "DISCONNECT", 15: "AUTH"}
VERSIONS = ["3.1", "3.1.1", "5.0"]
LEVEL = {"3.1": 3, "3.1.1": 4, "5.0": 5}

# id: (name, kind)
PROPS = {
    0x01: ("Payload Format Indicator", "byte"),
    0x02: ("Message Expiry Interval", "u32"),
    0x03: ("Content Type", "str"),
    0x08: ("Response Topic", "str"),
    0x09: ("Correlation Data", "bin"),
    0x0B: ("Subscription Identifier", "vbi"),
    0x11: ("Session Expiry Interval", "u32"),
    0x12: ("Assigned Client Identifier", "str"),
    0x13: ("Server Keep Alive", "u16"),
    0x15: ("Authentication Method", "str"),
    0x16: ("Authentication Data", "bin"),
    0x17: ("Request Problem Information", "byte"),
    0x18: ("Will Delay Interval", "u32"),
    0x19: ("Request Response Information", "byte"),
    0x1A: ("Response Information", "str"),
    0x1C: ("Server Reference", "str"),
    0x1F: ("Reason String", "str"),
    0x21: ("Receive Maximum", "u16"),
    0x22: ("Topic Alias Maximum", "u16"),
    0x23: ("Topic Alias", "u16"),
    0x24: ("Maximum QoS", "byte"),
    0x25: ("Retain Available", "byte"),
    0x26: ("User Property", "pair"),
    0x27: ("Maximum Packet Size", "u32"),
    0x28: ("Wildcard Subscription Available", "byte"),
    0x29: ("Subscription Identifier Available", "byte"),
    0x2A: ("Shared Subscription Available", "byte"),
}


class Bad(Exception):
    pass


class Reader:
    def __init__(self, data, pos=0, end=None):
        self.d = data
        self.p = pos
        self.end = len(data) if end is None else end

    def left(self):
        return self.end - self.p

    def take(self, n):
        if n < 0 or self.p + n > self.end:
            raise Bad("truncated: need %d bytes at offset %d, %d left"
                      % (n, self.p, self.left()))
        b = self.d[self.p:self.p + n]
        self.p += n
        return b

    def u8(self):
        return self.take(1)[0]

    def u16(self):
        return int.from_bytes(self.take(2), "big")

    def u32(self):
        return int.from_bytes(self.take(4), "big")

    def vbi(self):
        mult, val = 1, 0
        for i in range(4):
            b = self.u8()
            val += (b & 0x7F) * mult
            if not b & 0x80:
                return val
            mult *= 128
        raise Bad("variable byte integer longer than 4 bytes")

    def string(self):
        raw = self.take(self.u16())
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Bad("invalid UTF-8 string %r" % raw)

    def binary(self):
        return self.take(self.u16())


def read_props(r, where, seen):
    """Read an MQTT 5 property block; record (where, name) in seen."""
    length = r.vbi()
    sub = Reader(r.d, r.p, r.p + length)
    if sub.end > r.end:
        raise Bad("%s property length %d exceeds packet" % (where, length))
    while sub.left():
        pid = sub.vbi()
        if pid not in PROPS:
            raise Bad("%s: unknown property id 0x%02x" % (where, pid))
        name, kind = PROPS[pid]
        if kind == "byte":
            sub.u8()
        elif kind == "u16":
            sub.u16()
        elif kind == "u32":
            sub.u32()
        elif kind == "vbi":
            sub.vbi()
        elif kind == "str":
            sub.string()
        elif kind == "bin":
            sub.binary()
        elif kind == "pair":
            sub.string()
            sub.string()
        seen[(where, name)] += 1
    r.p = sub.end


def decode(pkt, version, seen, notes):
    """Strictly decode one packet; raise Bad on any inconsistency."""
    v5 = version == "5.0"
    first = pkt[0]
    ptype, flags = first >> 4, first & 0x0F
    if ptype not in TYPES:
        raise Bad("reserved packet type 0")
    name = TYPES[ptype]
    if ptype == 15 and not v5:
        raise Bad("AUTH in MQTT %s" % version)
    r = Reader(pkt, 1)
    rl = r.vbi()
    if r.p + rl != len(pkt):
        raise Bad("remaining length %d but %d bytes follow"
                  % (rl, len(pkt) - r.p))
    if ptype in (6, 8, 10):
        if flags != 2:
            raise Bad("%s flags must be 0010, got %x" % (name, flags))
    elif ptype != 3 and flags != 0:
        raise Bad("%s flags must be 0, got %x" % (name, flags))

    if ptype == 1:  # CONNECT
        proto = r.string()
        level = r.u8()
        want = "MQIsdp" if version == "3.1" else "MQTT"
        if proto != want or level != LEVEL[version]:
            raise Bad("CONNECT %s/%d in a %s file" % (proto, level, version))
        cflags = r.u8()
        r.u16()  # keepalive
        if v5:
            read_props(r, "CONNECT", seen)
        r.string()  # client id
        if cflags & 0x04:
            if v5:
                read_props(r, "CONNECT will", seen)
            r.string()
            r.binary()
            notes.add("CONNECT will qos%d%s" % ((cflags >> 3) & 3,
                                                 " retain" if cflags & 0x20
                                                 else ""))
        if cflags & 0x80:
            r.string()
            notes.add("CONNECT username")
        if cflags & 0x40:
            r.binary()
            notes.add("CONNECT password")
        notes.add("CONNECT clean=%d" % ((cflags >> 1) & 1))
    elif ptype == 2:  # CONNACK
        ack = r.u8()
        rc = r.u8()
        if v5:
            read_props(r, "CONNACK", seen)
        notes.add("CONNACK session-present=%d rc=0x%02x" % (ack & 1, rc))
    elif ptype == 3:  # PUBLISH
        qos = (flags >> 1) & 3
        if qos == 3:
            raise Bad("PUBLISH qos 3")
        topic = r.string()
        if qos:
            if r.u16() == 0:
                raise Bad("packet identifier 0")
        if v5:
            read_props(r, "PUBLISH", seen)
        payload = r.take(r.left())
        notes.add("PUBLISH qos%d%s%s" % (qos, " retain" if flags & 1 else "",
                                         " dup" if flags & 8 else ""))
        if not topic:
            notes.add("PUBLISH empty topic (topic alias)")
        if not payload:
            notes.add("PUBLISH empty payload")
    elif ptype in (4, 5, 6, 7):  # PUBACK PUBREC PUBREL PUBCOMP
        if r.u16() == 0:
            raise Bad("packet identifier 0")
        if v5 and r.left():
            rc = r.u8()
            notes.add("%s rc=0x%02x" % (name, rc))
            if r.left():
                read_props(r, name, seen)
    elif ptype == 8:  # SUBSCRIBE
        r.u16()
        if v5:
            read_props(r, "SUBSCRIBE", seen)
        if not r.left():
            raise Bad("SUBSCRIBE without filters")
        while r.left():
            r.string()
            opts = r.u8()
            if v5:
                notes.add("SUBSCRIBE options qos%d nl=%d rap=%d rh=%d"
                          % (opts & 3, (opts >> 2) & 1, (opts >> 3) & 1,
                             (opts >> 4) & 3))
            else:
                notes.add("SUBSCRIBE qos%d" % opts)
    elif ptype in (9, 11):  # SUBACK UNSUBACK
        r.u16()
        if v5:
            read_props(r, name, seen)
        if ptype == 9 or v5:
            codes = r.take(r.left())
            for c in codes:
                notes.add("%s rc=0x%02x" % (name, c))
    elif ptype == 10:  # UNSUBSCRIBE
        r.u16()
        if v5:
            read_props(r, "UNSUBSCRIBE", seen)
        if not r.left():
            raise Bad("UNSUBSCRIBE without filters")
        while r.left():
            r.string()
    elif ptype in (12, 13):
        pass
    elif ptype in (14, 15):  # DISCONNECT AUTH
        if v5 and r.left():
            rc = r.u8()
            notes.add("%s rc=0x%02x" % (name, rc))
            if r.left():
                read_props(r, name, seen)
    if r.left():
        raise Bad("%d unexpected trailing bytes in %s" % (r.left(), name))
    return name


LINE_RE = re.compile(r"^(c2s|s2c) ((?:[0-9a-f]{2})+)$")


def check_file(path, cover, seen, notes_by_version, errors):
    version = None
    count = 0
    header_done = False
    with open(path, encoding="ascii") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\n")
            where = "%s:%d" % (os.path.basename(path), lineno)
            if line.startswith("#"):
                m = re.match(r"^# version: (\S+)$", line)
                if m:
                    version = m.group(1)
                continue
            if not line.strip():
                continue
            header_done = True
            m = LINE_RE.match(line)
            if not m:
                errors.append("%s: malformed line %r" % (where, line[:60]))
                continue
            if version not in VERSIONS:
                errors.append("%s: missing/invalid '# version:' header"
                              % where)
                return 0
            direction, pkt = m.group(1), bytes.fromhex(m.group(2))
            try:
                name = decode(pkt, version,
                              seen[version], notes_by_version[version])
            except Bad as exc:
                errors.append("%s: %s" % (where, exc))
                continue
            cover[(name, version)][direction] += 1
            count += 1
    if not header_done:
        errors.append("%s: no packets" % os.path.basename(path))
    return count


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--markdown", action="store_true",
                    help="print coverage as markdown tables")
    ap.add_argument("--notes", action="store_true",
                    help="also list flags / reason codes seen")
    ap.add_argument("paths", nargs="*",
                    default=[os.path.dirname(here)])
    args = ap.parse_args()

    files = []
    for p in args.paths:
        if os.path.isdir(p):
            files += sorted(f for f in glob.glob(os.path.join(p, "*.txt")))
        else:
            files.append(p)

    cover = collections.defaultdict(collections.Counter)
    seen = {v: collections.Counter() for v in VERSIONS}
    notes = {v: set() for v in VERSIONS}
    errors = []
    total = 0
    for f in files:
        n = check_file(f, cover, seen, notes, errors)
        total += n
        if not args.markdown:
            print("%-48s %4d packets" % (os.path.basename(f), n))

    print()
    print("%d files, %d packets, %d errors" % (len(files), total,
                                              len(errors)))
    print()
    print("| Packet | " + " | ".join("MQTT " + v for v in VERSIONS) + " |")
    print("|---|" + "---|" * len(VERSIONS))
    for t in range(1, 16):
        name = TYPES[t]
        cells = []
        for v in VERSIONS:
            c = cover.get((name, v))
            if not c:
                cells.append("-")
            else:
                cells.append(" / ".join("%s %d" % (d, c[d])
                                        for d in ("c2s", "s2c") if c[d]))
        print("| %s | %s |" % (name, " | ".join(cells)))
    print()
    print("MQTT 5.0 properties seen (packet: property x count):")
    print()
    by_prop = collections.defaultdict(list)
    for (where, pname), n in sorted(seen["5.0"].items()):
        by_prop[pname].append("%s %d" % (where, n))
    print("| Property | Packets (count) |")
    print("|---|---|")
    for pid, (pname, _kind) in sorted(PROPS.items()):
        print("| 0x%02X %s | %s |" % (pid, pname,
                                       ", ".join(by_prop.get(pname, []))
                                       or "-"))
    if args.notes:
        for v in VERSIONS:
            print()
            print("MQTT %s flags/codes seen:" % v)
            for n in sorted(notes[v]):
                print("  " + n)
    if errors:
        print()
        for e in errors:
            print("ERROR " + e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
