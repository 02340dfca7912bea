"""Writers for the binary formats the forensics challenges hide flags in (stdlib only)."""

import hashlib
import struct
import zlib
from collections.abc import Sequence


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int = 48, height: int = 32, extra: Sequence[bytes] = ()) -> bytes:
    """A valid RGB PNG of a colour gradient, with `extra` chunks placed before the image data."""
    rows = b"".join(
        b"\x00" + bytes(v for x in range(width) for v in (x * 5 % 256, y * 8 % 256, 128))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + b"".join(extra)
        + png_chunk(b"IDAT", zlib.compress(rows))
        + png_chunk(b"IEND", b"")
    )


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f">{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def tcp_frame(
    src: tuple[str, int], dst: tuple[str, int], seq: int, ack: int, flags: int, payload: bytes
) -> bytes:
    """An Ethernet + IPv4 + TCP frame carrying `payload` (checksums filled in)."""
    saddr = bytes(int(p) for p in src[0].split("."))
    daddr = bytes(int(p) for p in dst[0].split("."))
    tcp = struct.pack(">HHIIBBHHH", src[1], dst[1], seq, ack, 5 << 4, flags, 65535, 0, 0)
    pseudo = saddr + daddr + struct.pack(">BBH", 0, 6, len(tcp) + len(payload))
    tcp = tcp[:16] + struct.pack(">H", _checksum(pseudo + tcp + payload)) + tcp[18:]
    ip = struct.pack(
        ">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 1, 0x4000, 64, 6, 0, saddr, daddr
    )
    ip = ip[:10] + struct.pack(">H", _checksum(ip)) + ip[12:]
    ethernet = bytes.fromhex("0200000000020200000000010800")
    return ethernet + ip + tcp + payload


def pcap(frames: Sequence[bytes], start: int = 1_700_000_000) -> bytes:
    """A classic libpcap capture (Ethernet link type) of `frames`, 10 ms apart."""
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    for i, frame in enumerate(frames):
        out += struct.pack("<IIII", start, i * 10_000, len(frame), len(frame)) + frame
    return out


class GitHistory:
    """Builds a small git repository (loose objects, index, work tree) without running git."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.head: str | None = None
        self.tree: dict[str, bytes] = {}
        self.blobs: dict[str, str] = {}
        self.time = 1_700_000_000

    def _object(self, kind: str, body: bytes) -> str:
        raw = f"{kind} {len(body)}\0".encode() + body
        sha = hashlib.sha1(raw).hexdigest()
        self.files[f".git/objects/{sha[:2]}/{sha[2:]}"] = zlib.compress(raw)
        return sha

    def commit(self, tree: dict[str, bytes], message: str, author: str) -> str:
        """Commit a flat tree (file name -> contents) on top of the current head."""
        self.tree = dict(tree)
        self.blobs = {name: self._object("blob", data) for name, data in sorted(tree.items())}
        entries = b"".join(
            f"100644 {name}\0".encode() + bytes.fromhex(sha) for name, sha in self.blobs.items()
        )
        lines = [f"tree {self._object('tree', entries)}"]
        if self.head:
            lines.append(f"parent {self.head}")
        self.time += 3600
        stamp = f"{author} {self.time} +0000"
        lines += [f"author {stamp}", f"committer {stamp}", "", message, ""]
        self.head = self._object("commit", "\n".join(lines).encode())
        return self.head

    def _index(self) -> bytes:
        """A version-2 index (staging area) matching the last commit; stat fields left zero."""
        out = b"DIRC" + struct.pack(">II", 2, len(self.blobs))
        for name, sha in self.blobs.items():
            path = name.encode()
            entry = struct.pack(">10I", 0, 0, 0, 0, 0, 0, 0o100644, 0, 0, len(self.tree[name]))
            entry += bytes.fromhex(sha) + struct.pack(">H", len(path)) + path
            out += entry + b"\0" * (8 - len(entry) % 8)
        return out + hashlib.sha1(out).digest()

    def repository(self) -> dict[str, bytes]:
        """Path -> contents of the repository: `main` checked out at the last commit."""
        if self.head is None:
            raise ValueError("commit something first")
        config = b"[core]\n\trepositoryformatversion = 0\n\tbare = false\n"
        return {
            **self.files,
            ".git/HEAD": b"ref: refs/heads/main\n",
            ".git/config": config,
            ".git/refs/heads/main": f"{self.head}\n".encode(),
            ".git/index": self._index(),
            **self.tree,
        }
