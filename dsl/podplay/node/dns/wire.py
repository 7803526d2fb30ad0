"""DNS messages on the wire (RFC 1035), just enough for a small authoritative + forwarding
server: parse queries and upstream answers (with name compression), build responses.

Standard library only. Names are handled as lower-case-insensitive dotted strings without
the trailing dot; owner names keep the case the client asked with.
"""

from __future__ import annotations

import ipaddress
import struct
from typing import List, NamedTuple, Optional, Tuple

A, NS, CNAME, SOA, PTR, MX, TXT, AAAA, SRV, OPT, ANY = 1, 2, 5, 6, 12, 15, 16, 28, 33, 41, 255
IN = 1
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5

QR = 0x8000
AA = 0x0400
TC = 0x0200
RD = 0x0100
RA = 0x0080

TYPE_NAMES = {A: "A", NS: "NS", CNAME: "CNAME", SOA: "SOA", PTR: "PTR", MX: "MX", TXT: "TXT",
              AAAA: "AAAA", SRV: "SRV", OPT: "OPT", ANY: "ANY"}  # fmt: skip


class WireError(ValueError):
    """A message that cannot be parsed."""


class Question(NamedTuple):
    name: str
    qtype: int
    qclass: int


class RR(NamedTuple):
    """A resource record; `rdata` is already in wire form without compression."""

    name: str
    rtype: int
    rclass: int
    ttl: int
    rdata: bytes


class Message(NamedTuple):
    id: int
    flags: int
    questions: List[Question]
    answers: List[RR]
    authority: List[RR]
    additional: List[RR]

    @property
    def rcode(self) -> int:
        return self.flags & 0xF

    @property
    def opcode(self) -> int:
        return (self.flags >> 11) & 0xF

    def edns_size(self) -> Optional[int]:
        """The UDP payload size the client offers with EDNS(0), or None."""
        for rr in self.additional:
            if rr.rtype == OPT:
                return max(512, rr.rclass)
        return None


# -- names -------------------------------------------------------------------------------------


def encode_name(name: str) -> bytes:
    out = bytearray()
    for label in name.strip(".").split(".") if name.strip(".") else []:
        raw = label.encode("idna") if not label.isascii() else label.encode("ascii")
        if not 0 < len(raw) < 64:
            raise WireError("bad label in %r" % name)
        out.append(len(raw))
        out += raw
    out.append(0)
    if len(out) > 255:
        raise WireError("name too long: %r" % name)
    return bytes(out)


def decode_name(data: bytes, offset: int) -> Tuple[str, int]:
    """(name, offset after the name in the original position), following compression."""
    labels: List[str] = []
    end: Optional[int] = None
    jumps = 0
    while True:
        if offset >= len(data):
            raise WireError("name runs past the message")
        length = data[offset]
        if length & 0xC0 == 0xC0:
            if offset + 1 >= len(data):
                raise WireError("truncated pointer")
            if end is None:
                end = offset + 2
            offset = ((length & 0x3F) << 8) | data[offset + 1]
            jumps += 1
            if jumps > 64:
                raise WireError("compression loop")
            continue
        if length & 0xC0:
            raise WireError("bad label type")
        offset += 1
        if length == 0:
            break
        labels.append(data[offset : offset + length].decode("ascii", "replace"))
        offset += length
    return ".".join(labels), end if end is not None else offset


# -- rdata -------------------------------------------------------------------------------------


def rdata_a(ip: str) -> bytes:
    return ipaddress.IPv4Address(ip).packed


def rdata_name(target: str) -> bytes:
    return encode_name(target)


def rdata_srv(priority: int, weight: int, port: int, target: str) -> bytes:
    return struct.pack("!HHH", priority, weight, port) + encode_name(target)


def rdata_soa(mname: str, rname: str, serial: int, refresh: int, retry: int, expire: int,
              minimum: int) -> bytes:  # fmt: skip
    return (
        encode_name(mname)
        + encode_name(rname)
        + struct.pack("!IIIII", serial, refresh, retry, expire, minimum)
    )


def _expand_rdata(data: bytes, rtype: int, start: int, length: int) -> bytes:
    """Rdata with any compressed names expanded, so it can be copied into another message."""
    raw = data[start : start + length]
    if rtype in (CNAME, NS, PTR):
        return encode_name(decode_name(data, start)[0])
    if rtype == MX:
        return raw[:2] + encode_name(decode_name(data, start + 2)[0])
    if rtype == SRV:
        return raw[:6] + encode_name(decode_name(data, start + 6)[0])
    if rtype == SOA:
        mname, off = decode_name(data, start)
        rname, off = decode_name(data, off)
        return encode_name(mname) + encode_name(rname) + data[off : off + 20]
    return raw


def rdata_text(rr: RR) -> str:
    """Human form of common rdata (for logs and tests)."""
    if rr.rtype == A:
        return str(ipaddress.IPv4Address(rr.rdata))
    if rr.rtype == AAAA:
        return str(ipaddress.IPv6Address(rr.rdata))
    if rr.rtype in (CNAME, NS, PTR):
        return decode_name(rr.rdata, 0)[0]
    if rr.rtype == SRV:
        prio, weight, port = struct.unpack("!HHH", rr.rdata[:6])
        return "%d %d %d %s" % (prio, weight, port, decode_name(rr.rdata, 6)[0])
    return rr.rdata.hex()


# -- messages ----------------------------------------------------------------------------------


def parse(data: bytes) -> Message:
    if len(data) < 12:
        raise WireError("message shorter than a header")
    ident, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", data[:12])
    offset = 12
    questions = []
    for _ in range(qd):
        name, offset = decode_name(data, offset)
        if offset + 4 > len(data):
            raise WireError("truncated question")
        qtype, qclass = struct.unpack("!HH", data[offset : offset + 4])
        offset += 4
        questions.append(Question(name, qtype, qclass))
    sections: List[List[RR]] = []
    for count in (an, ns, ar):
        records = []
        for _ in range(count):
            name, offset = decode_name(data, offset)
            if offset + 10 > len(data):
                raise WireError("truncated record")
            rtype, rclass, ttl, rdlen = struct.unpack("!HHIH", data[offset : offset + 10])
            offset += 10
            if offset + rdlen > len(data):
                raise WireError("truncated rdata")
            records.append(RR(name, rtype, rclass, ttl, _expand_rdata(data, rtype, offset, rdlen)))
            offset += rdlen
        sections.append(records)
    return Message(ident, flags, questions, sections[0], sections[1], sections[2])


def _encode_rr(rr: RR) -> bytes:
    return (
        encode_name(rr.name)
        + struct.pack("!HHIH", rr.rtype, rr.rclass, rr.ttl, len(rr.rdata))
        + rr.rdata
    )


def build(
    ident: int,
    flags: int,
    questions: List[Question],
    answers: List[RR] = (),  # type: ignore[assignment]
    authority: List[RR] = (),  # type: ignore[assignment]
    additional: List[RR] = (),  # type: ignore[assignment]
) -> bytes:
    out = bytearray(
        struct.pack(
            "!HHHHHH", ident, flags, len(questions), len(answers), len(authority), len(additional)
        )
    )
    for q in questions:
        out += encode_name(q.name) + struct.pack("!HH", q.qtype, q.qclass)
    for rr in list(answers) + list(authority) + list(additional):
        out += _encode_rr(rr)
    return bytes(out)


def query(ident: int, name: str, qtype: int, recursion: bool = True) -> bytes:
    return build(ident, RD if recursion else 0, [Question(name, qtype, IN)])


def response(
    request: Message,
    rcode: int,
    answers: List[RR] = (),  # type: ignore[assignment]
    authority: List[RR] = (),  # type: ignore[assignment]
    authoritative: bool = True,
    max_size: int = 512,
) -> bytes:
    """A reply to `request`; truncated (TC, no records) when it would exceed `max_size`."""
    flags = QR | (request.flags & (RD | 0x7800)) | RA | (rcode & 0xF)
    if authoritative:
        flags |= AA
    additional = []
    if request.edns_size() is not None:
        additional.append(RR("", OPT, 1232, 0, b""))
    data = build(request.id, flags, request.questions[:1], answers, authority, additional)
    if len(data) > max_size:
        data = build(request.id, flags | TC, request.questions[:1], [], [], additional)
    return data
