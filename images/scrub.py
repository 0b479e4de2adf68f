"""Take location, device and editing metadata out of an original, leaving its pixels' bytes untouched.

A phone photo carries GPS, maker notes, serial numbers, XMP, comments and thumbnails (which may
show what an edit cropped away). Each format is rewritten at the container level, never re-encoded, so
the decoded pixels are bit for bit those sent:

- JPEG: segments. Kept: JFIF APP0 (without its thumbnail), ICC profile (APP2), Adobe APP14 (it says
  how to turn the samples into colours), every table and scan, and an Exif APP1 reduced to the
  Orientation tag alone when it turns the picture. Dropped: the rest of Exif, XMP, MPF and FlashPix
  (APP2), Photoshop/IPTC (APP13), other APPn, comments, and whatever follows the end of image (the
  extra pictures of an MPO, vendor trailers, motion-photo videos).
- PNG: chunks. Ancillary chunks not needed to show the image go (tEXt, iTXt, zTXt, tIME, eXIf, private
  ones); colour (iCCP, sRGB, gAMA, cHRM, cICP...), transparency and animation (APNG) chunks stay.
  An eXIf with a turning Orientation is replaced by one with that tag alone.
- WebP: RIFF chunks. EXIF and XMP go (a turning Orientation stays as a minimal EXIF), ICC, animation and
  alpha stay; the VP8X flags and the RIFF size are made to match.
- HEIC/HEIF and AVIF (ISOBMFF): the Exif item is overwritten in place by one holding only the
  Orientation, and an XMP item by an empty packet, both padded to the same length, so that no offset
  in the file moves. Their orientation is in the irot/imir properties, which are untouched.
- GIF: blocks. Comment extensions and application extensions go (XMP's "XMP DataXMP" among them), but
  for the loop count of an animation (NETSCAPE2.0 or ANIMEXTS1.0, rebuilt with that sub-block alone) and
  an ICC profile (ICCRGBG1012); every frame (image descriptor, colour tables, LZW data), graphic control
  (delays, disposal, transparency) and plain text extension stays byte for byte, and whatever follows
  the trailer goes.

A file with nothing to remove comes back byte for byte. Anything the walk cannot make sense of raises
ScrubError: such a file is refused, never stored with its metadata.
"""

import bisect
import enum
import hashlib
import io
import re
import struct
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from django.core.files import File
from PIL import ExifTags, Image

EXIF_PREFIX = b"Exif\x00\x00"
EMPTY_XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>'
XMP_CONTENT_TYPES = {b"application/rdf+xml", b"application/xmp+xml", b"text/xml", b"application/xml"}


class ScrubError(ValueError):
    """The file's structure could not be walked, so its metadata cannot be said to be gone."""


@dataclass(frozen=True)
class Scrubbed:
    """A file as it is to be stored, from one pass over its bytes (scrub_file).

    `pieces`, in order, are bytes to write or (offset, length) ranges of the source to copy; `unchanged` says the
    result is the source byte for byte. `checksum` is the result's SHA-256, `source_checksum` the source's.
    """

    pieces: tuple[bytes | tuple[int, int], ...]
    size: int
    checksum: str
    source_checksum: str
    unchanged: bool

    def file(self, source: File, name: str) -> File:
        """The result as a File to store, reading the source's ranges as it goes (never the whole in memory)."""
        if self.unchanged:
            return source
        stored = File(io.BufferedReader(_PiecesReader(source, self.pieces), buffer_size=_Reader.CHUNK), name=name)
        stored.size = self.size
        return stored


def scrub_file(file: File, fmt: str, *, strip: bool = True) -> Scrubbed:
    """Read the file once: its SHA-256 and, with `strip`, its pieces without metadata (strip_metadata) and theirs.

    A JPEG is walked as it is read, in chunks (its scan data is copied from the source when stored); the other
    formats are read whole (at most IMAGE_MAX_UPLOAD_SIZE bytes) and stripped as bytes. Raises ScrubError.
    """
    file.seek(0)
    try:
        pieces: Sequence[bytes | tuple[int, int]]
        if strip and fmt in ("JPEG", "MPO"):
            reader = _Reader(file)
            pieces, digest, size = _collected(_jpeg_walk(reader), reader)
            reader.drain()  # a walk that ends without an end of image has read everything already
            source = reader.digest.hexdigest()
            unchanged = digest is None and size == reader.pos
            checksum = source if unchanged else (digest or reader.digest).hexdigest()
        elif strip and fmt in _STRIPPERS:
            data = file.read()
            result = _STRIPPERS[fmt](data)
            source, checksum = hashlib.sha256(data).hexdigest(), hashlib.sha256(result).hexdigest()
            pieces, size, unchanged = (result,), len(result), result == data
        else:
            reader = _Reader(file)
            reader.drain()
            source = checksum = reader.digest.hexdigest()
            pieces, size, unchanged = ((0, reader.pos),), reader.pos, True
    except (struct.error, IndexError, ValueError) as exc:
        raise ScrubError(f"{fmt}: {exc}") from exc
    finally:
        file.seek(0)
    return Scrubbed(tuple(pieces), size, checksum, source, unchanged)


def _collected(
    walk: "Iterator[_Piece]", reader: "_Reader"
) -> tuple[list[bytes | tuple[int, int]], "hashlib._Hash | None", int]:
    """The pieces of a walk (adjacent source ranges merged), their SHA-256 and their size.

    The SHA-256 is None while the result is the source byte for byte (the source's own is then the result's): it
    starts from the source's at the first piece that differs, so a file with nothing to remove is hashed once.
    """
    pieces: list[bytes | tuple[int, int]] = []
    digest, size = None, 0
    for piece in walk:
        if piece is DROPPED or isinstance(piece, bytes):
            if digest is None:  # the first difference: everything before it was the source's
                digest = reader.before.copy()
            if piece is DROPPED:
                continue
            digest.update(piece)
            size += len(piece)
            pieces.append(piece)
            continue
        offset, data = piece
        if digest is not None:
            digest.update(data)
        size += len(data)
        last = pieces[-1] if pieces else None
        if isinstance(last, tuple) and last[0] + last[1] == offset:
            pieces[-1] = (last[0], last[1] + len(data))
        else:
            pieces.append((offset, len(data)))
    return pieces, digest, size


class _PiecesReader(io.RawIOBase):
    """The pieces of a Scrubbed file as one readable, seekable stream (bytes, and ranges read from the source)."""

    def __init__(self, source: File, pieces: tuple[bytes | tuple[int, int], ...]) -> None:
        self.source, self.pieces, self.position = source, pieces, 0
        self.starts, total = [], 0
        for piece in pieces:
            self.starts.append(total)
            total += len(piece) if isinstance(piece, bytes) else piece[1]
        self.total = total

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.total}[whence]
        self.position = max(base + offset, 0)
        return self.position

    def readinto(self, buffer) -> int:
        if self.position >= self.total:
            return 0
        index = bisect.bisect_right(self.starts, self.position) - 1
        piece, into = self.pieces[index], self.position - self.starts[index]
        if isinstance(piece, bytes):
            data = piece[into : into + len(buffer)]
        else:
            offset, length = piece
            self.source.seek(offset + into)
            data = self.source.read(min(len(buffer), length - into))
            if not data:
                raise OSError("the source file is shorter than when it was read")
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)


def strip_metadata(data: bytes, fmt: str) -> bytes:
    """Return the file's bytes without its metadata; `fmt` is Pillow's name for the format (the bytes')."""
    strip = {"JPEG": _jpeg, "MPO": _jpeg, **_STRIPPERS}.get(fmt)
    if strip is None:
        return data
    try:
        return strip(data)
    except (struct.error, IndexError, ValueError) as exc:
        raise ScrubError(f"{fmt}: {exc}") from exc


def exif_orientation(payload: bytes) -> int:
    """The Orientation tag of an Exif block ("Exif\\0\\0" + TIFF, or TIFF alone); 1 when absent or unreadable."""
    try:
        exif = Image.Exif()
        exif.load(payload)
        orientation = exif.get(ExifTags.Base.Orientation, 1)
    except Exception:  # any malformed block: Pillow raises a variety of errors
        return 1
    return orientation if orientation in range(1, 9) else 1


def minimal_exif(orientation: int) -> bytes:
    """ "Exif\\0\\0" and a TIFF header whose only IFD holds the Orientation tag (32 bytes)."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    return exif.tobytes()


# --- JPEG -----------------------------------------------------------------------------------------

SOI, EOI, SOS, COM = 0xD8, 0xD9, 0xDA, 0xFE
APP0, APP1, APP2, APP14 = 0xE0, 0xE1, 0xE2, 0xEE
# The end of a scan's entropy-coded data: an 0xFF that is not stuffing (00), a restart (D0-D7) or fill (FF).
SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def _jpeg(data: bytes) -> bytes:
    walk = _jpeg_walk(_Reader(io.BytesIO(data)))
    return b"".join(piece if isinstance(piece, bytes) else piece[1] for piece in walk if piece is not DROPPED)


class _Reader:
    """Sequential reads of a file in chunks; each byte is fed to the source's SHA-256 once, as it is consumed.

    `before` is that SHA-256 as it was before the last take (or the drain): the checksum of everything before it (of
    nothing, until the first).
    """

    CHUNK = 256 * 1024

    def __init__(self, file) -> None:
        self.file, self.digest = file, hashlib.sha256()
        self.before = self.digest.copy()
        self.buffer, self.start, self.pos = b"", 0, 0  # the buffer holds bytes start..; pos is the file position

    def _fill(self) -> bool:
        chunk = self.file.read(self.CHUNK)
        if not chunk:
            return False
        self.buffer = self.buffer[self.pos - self.start :] + chunk
        self.start = self.pos
        return True

    def available(self, n: int) -> bool:
        """Whether n more bytes can be read from pos."""
        while self.start + len(self.buffer) - self.pos < n:
            if not self._fill():
                return False
        return True

    def peek(self, n: int) -> bytes:
        if not self.available(n):
            raise ValueError(f"the file ends at {self.start + len(self.buffer)}, inside a structure at {self.pos}")
        return self.buffer[self.pos - self.start : self.pos - self.start + n]

    def take(self, n: int) -> tuple[int, bytes]:
        """The next n bytes, and their offset."""
        data = self.peek(n)
        self.before = self.digest.copy()
        self.digest.update(data)
        self.pos += n
        return self.pos - n, data

    def advance(self, stop: int) -> Iterator[tuple[int, memoryview]]:
        """Move to `stop` (within the buffer), yielding what is passed over as (offset, its bytes)."""
        if stop > self.pos:
            view = memoryview(self.buffer)[self.pos - self.start : stop - self.start]
            self.digest.update(view)
            yield self.pos, view
            self.pos = stop

    def drain(self) -> None:
        """Consume the rest of the file."""
        self.before = self.digest.copy()
        rest = self.buffer[self.pos - self.start :] or self.file.read(self.CHUNK)
        while rest:
            self.digest.update(rest)
            self.pos += len(rest)
            rest = self.file.read(self.CHUNK)
        self.buffer, self.start = b"", self.pos


class _Walk(enum.Enum):
    DROPPED = enum.auto()


# A walk's word for "what was just taken is not in the result".
DROPPED: Final = _Walk.DROPPED
# What a walk yields: (offset, bytes) of the source kept verbatim, new bytes, or DROPPED.
_Piece = tuple[int, bytes | memoryview] | bytes | Literal[_Walk.DROPPED]


def _jpeg_walk(reader: _Reader) -> Iterator[_Piece]:
    """The scrubbed JPEG as pieces in order: (offset, bytes) of the source kept verbatim, new bytes, or DROPPED
    right after taking what is left out.

    One sequential pass: segments are read whole (64 KB at most), a scan's entropy-coded data chunk by chunk.
    """
    start = reader.take(2)
    if start[1] != b"\xff\xd8":
        raise ValueError("no start of image")
    yield start
    seen_exif = False
    while reader.available(1):
        if reader.peek(1)[0] != 0xFF:
            raise ValueError(f"no marker at {reader.pos}")
        while reader.peek(2)[1] == 0xFF:  # fill bytes before a marker
            reader.take(1)
            yield DROPPED
        marker = reader.peek(2)[1]
        if marker == EOI:
            yield reader.take(2)
            end = reader.pos
            reader.drain()
            if reader.pos > end:
                yield DROPPED  # what follows the end of image is not this picture
            return
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # standalone markers
            yield reader.take(2)
            continue
        (length,) = struct.unpack(">H", reader.peek(4)[2:])
        if length < 2 or not reader.available(2 + length):
            raise ValueError(f"segment {marker:02X} at {reader.pos} runs past the end")
        taken = reader.take(2 + length)
        payload = taken[1][4:]
        if marker == SOS:  # the header, then the scan data up to the next real marker, verbatim
            yield taken
            yield from _jpeg_scan(reader)
            continue
        if marker == APP1 and payload.startswith(EXIF_PREFIX) and not seen_exif:
            seen_exif = True
            orientation = exif_orientation(payload)
            yield _jpeg_segment(APP1, minimal_exif(orientation)) if orientation != 1 else DROPPED
        elif marker == APP0 and payload.startswith(b"JFIF\x00") and len(payload) >= 14:
            # Version, units and density stay; the thumbnail's width and height become 0, its pixels go.
            yield _jpeg_segment(APP0, payload[:12] + b"\x00\x00") if len(payload) > 14 else taken
        elif (marker == APP2 and payload.startswith(b"ICC_PROFILE\x00")) or (
            marker == APP14 and payload.startswith(b"Adobe")
        ):
            yield taken
        elif APP0 <= marker <= 0xEF or marker == COM:
            yield DROPPED  # any other application segment or comment: metadata, never needed to decode
        else:  # tables, frame and restart headers...: all the decoder needs, verbatim
            yield taken


def _jpeg_scan(reader: _Reader) -> Iterator[tuple[int, memoryview]]:
    """The entropy-coded data from the reader's position to the next real marker (or the end), as (offset, bytes)."""
    while True:
        found = SCAN_END.search(reader.buffer, reader.pos - reader.start)
        if found is not None:
            yield from reader.advance(reader.start + found.start())
            return
        # No marker in what is buffered: all but a last 0xFF (it may start one) is scan data.
        yield from reader.advance(reader.start + len(reader.buffer) - (1 if reader.buffer.endswith(b"\xff") else 0))
        if not reader._fill():
            yield from reader.advance(reader.start + len(reader.buffer))  # no EOI: decoders cope, so do we
            return


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


# --- PNG ------------------------------------------------------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Ancillary chunks that change what is shown: colour, transparency, pixel aspect, animation (APNG).
PNG_DISPLAY_CHUNKS = {
    b"tRNS",
    b"cHRM",
    b"gAMA",
    b"iCCP",
    b"sBIT",
    b"sRGB",
    b"cICP",
    b"mDCV",
    b"cLLI",
    b"bKGD",
    b"hIST",
    b"pHYs",
    b"sPLT",
    b"acTL",
    b"fcTL",
    b"fdAT",
}


def _png(data: bytes) -> bytes:
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("no PNG signature")
    out, pos = [PNG_SIGNATURE], len(PNG_SIGNATURE)
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 12 + length
        if end > len(data):
            raise ValueError(f"chunk {kind!r} at {pos} runs past the end")
        critical = not kind[0] & 0x20  # an upper-case first letter: the decoder needs it
        if critical or kind in PNG_DISPLAY_CHUNKS:
            out.append(data[pos:end])
        elif kind == b"eXIf":
            orientation = exif_orientation(data[pos + 8 : end - 4])
            if orientation != 1:
                out.append(_png_chunk(b"eXIf", minimal_exif(orientation)[len(EXIF_PREFIX) :]))
        pos = end
        if kind == b"IEND":
            break  # bytes after the end are no part of the image
    return b"".join(out)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


# --- WebP -----------------------------------------------------------------------------------------

WEBP_IMAGE_CHUNKS = {b"VP8X", b"VP8 ", b"VP8L", b"ALPH", b"ANIM", b"ANMF", b"ICCP"}
VP8X_XMP, VP8X_EXIF = 0x04, 0x08


def _webp(data: bytes) -> bytes:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError("no RIFF WEBP header")
    riff_end = min(8 + struct.unpack("<I", data[4:8])[0], len(data))
    chunks, pos = [], 12
    while pos + 8 <= riff_end:
        kind, size = struct.unpack("<4sI", data[pos : pos + 8])
        end = pos + 8 + size + (size & 1)  # chunks are padded to an even length
        if pos + 8 + size > len(data):
            raise ValueError(f"chunk {kind!r} at {pos} runs past the end")
        chunks.append((kind, data[pos : min(end, len(data))]))
        pos = end
    out, has_exif = [], False
    for kind, chunk in chunks:
        if kind in WEBP_IMAGE_CHUNKS:
            out.append(chunk)
        elif kind == b"EXIF" and chunks[0][0] == b"VP8X" and not has_exif:
            orientation = exif_orientation(chunk[8:])
            if orientation != 1:
                out.append(_riff_chunk(b"EXIF", minimal_exif(orientation)[len(EXIF_PREFIX) :]))
                has_exif = True
    if out and out[0][:4] == b"VP8X":  # the extended header's flags must match the chunks present
        flags = out[0][8] & ~(VP8X_XMP | VP8X_EXIF) | (VP8X_EXIF if has_exif else 0)
        out[0] = out[0][:8] + bytes([flags]) + out[0][9:]
    body = b"WEBP" + b"".join(out)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _riff_chunk(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("<I", len(payload)) + payload + b"\x00" * (len(payload) & 1)


# --- GIF ------------------------------------------------------------------------------------------

GIF_EXTENSION, GIF_IMAGE, GIF_TRAILER = 0x21, 0x2C, 0x3B
GIF_GRAPHIC_CONTROL, GIF_PLAIN_TEXT, GIF_APPLICATION = 0xF9, 0x01, 0xFF
GIF_LOOPING = {b"NETSCAPE2.0", b"ANIMEXTS1.0"}  # a sub-block 1 holds the loop count
GIF_ICC = b"ICCRGBG1012"


def _gif(data: bytes) -> bytes:
    if data[:6] not in (b"GIF87a", b"GIF89a"):
        raise ValueError("no GIF header")
    flags = data[10]
    pos = 13 + (3 << ((flags & 0x07) + 1) if flags & 0x80 else 0)  # screen descriptor, global colour table
    if pos > len(data):
        raise ValueError("the global colour table runs past the end")
    out = [data[:pos]]
    while pos < len(data):
        block = data[pos]
        if block == GIF_TRAILER:
            out.append(data[pos : pos + 1])
            break  # bytes after the trailer are no part of the image
        if block == GIF_IMAGE:
            flags = data[pos + 9]
            start = pos + 10 + (3 << ((flags & 0x07) + 1) if flags & 0x80 else 0) + 1  # + LZW minimum code size
            end, _ = _gif_sub_blocks(data, start)
            out.append(data[pos:end])
        elif block == GIF_EXTENSION:
            label = data[pos + 1]
            end, payloads = _gif_sub_blocks(data, pos + 2)
            if label in (GIF_GRAPHIC_CONTROL, GIF_PLAIN_TEXT):
                out.append(data[pos:end])
            elif label == GIF_APPLICATION and payloads:
                out.append(_gif_application(payloads, data[pos:end]))
            # comments (0xFE), other applications' data (XMP...) and unknown labels: dropped
        else:
            raise ValueError(f"unknown block {block:02X} at {pos}")
        pos = end
    return b"".join(out)


def _gif_sub_blocks(data: bytes, pos: int) -> tuple[int, list[bytes]]:
    """Walk the data sub-blocks starting at pos: (the position after their terminator, their payloads)."""
    payloads: list[bytes] = []
    while True:
        size = data[pos]
        if size == 0:
            return pos + 1, payloads
        if pos + 1 + size > len(data):
            raise ValueError(f"a sub-block at {pos} runs past the end")
        payloads.append(data[pos + 1 : pos + 1 + size])
        pos += 1 + size


def _gif_application(payloads: list[bytes], verbatim: bytes) -> bytes:
    """What stays of an application extension: the loop count alone, an ICC profile as it is, or nothing."""
    identifier = payloads[0]
    if identifier == GIF_ICC:
        return verbatim
    if identifier in GIF_LOOPING:
        loop = next((sub for sub in payloads[1:] if len(sub) == 3 and sub[0] == 1), None)
        if loop is not None:
            return bytes([GIF_EXTENSION, GIF_APPLICATION, len(identifier)]) + identifier + b"\x03" + loop + b"\x00"
    return b""


# --- HEIC/HEIF and AVIF (ISOBMFF) -----------------------------------------------------------------


def _isobmff(data: bytes) -> bytes:
    meta = next((box for box in _boxes(data, 0, len(data)) if box[0] == b"meta"), None)
    if meta is None:
        raise ValueError("no meta box")
    items: dict[int, tuple[bytes, bytes]] = {}  # item id -> (type, MIME content type)
    locations: dict[int, list[tuple[int, int]]] = {}  # item id -> [(file offset, length)]
    idat_start = None
    children = list(_boxes(data, meta[1] + 4, meta[2]))  # meta is a FullBox: 4 bytes of version/flags
    for kind, start, _end in children:
        if kind == b"idat":
            idat_start = start
    for kind, start, end in children:
        if kind == b"iinf":
            items = _iinf(data, start, end)
        elif kind == b"iloc":
            locations = _iloc(data, start, end, idat_start)
    out = bytearray(data)
    for item_id, (item_type, content_type) in items.items():
        if item_type == b"Exif":
            replacement = None
        elif item_type == b"mime" and content_type in XMP_CONTENT_TYPES:
            replacement = EMPTY_XMP
        else:
            continue
        extents = locations.get(item_id, [])
        payload = b"".join(data[offset : offset + length] for offset, length in extents)
        if replacement is None:
            # exif_tiff_header_offset (4 bytes), then usually "Exif\0\0", then the TIFF data.
            if len(payload) < 4:
                continue
            (tiff_offset,) = struct.unpack(">I", payload[:4])
            orientation = exif_orientation(payload[4 + tiff_offset :])
            replacement = struct.pack(">I", len(EXIF_PREFIX)) + minimal_exif(orientation)
            if len(replacement) > len(payload):
                # Too short for even one IFD entry beside the header: it cannot hold a GPS IFD.
                continue
        _overwrite(out, extents, replacement.ljust(len(payload), b"\x00" if item_type == b"Exif" else b" "))
    return bytes(out)


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, box end) of each box between start and end."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:
            (size,) = struct.unpack(">Q", data[pos + 8 : pos + 16])
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise ValueError(f"box {kind!r} at {pos} runs past its parent")
        yield kind, pos + header, pos + size
        pos += size


def _iinf(data: bytes, start: int, end: int) -> dict[int, tuple[bytes, bytes]]:
    version = data[start]
    first = start + (6 if version == 0 else 8)  # version/flags, then a 16- or 32-bit entry count
    items = {}
    for kind, pos, box_end in _boxes(data, first, end):
        if kind != b"infe" or data[pos] < 2:  # versions 0 and 1 carry no item type
            continue
        id_size = 2 if data[pos] == 2 else 4
        pos += 4
        item_id = int.from_bytes(data[pos : pos + id_size], "big")
        pos += id_size + 2  # item_protection_index
        item_type = data[pos : pos + 4]
        names = data[pos + 4 : box_end].split(b"\x00")
        content_type = names[1] if item_type == b"mime" and len(names) > 1 else b""
        items[item_id] = (item_type, content_type)
    return items


def _iloc(data: bytes, start: int, end: int, idat_start: int | None) -> dict[int, list[tuple[int, int]]]:
    version = data[start]
    pos = start + 4
    offset_size, length_size = data[pos] >> 4, data[pos] & 0x0F
    base_offset_size, index_size = data[pos + 1] >> 4, (data[pos + 1] & 0x0F if version in (1, 2) else 0)
    pos += 2

    def read(size: int) -> int:
        nonlocal pos
        if pos + size > end:
            raise ValueError("iloc runs past its box")
        value = int.from_bytes(data[pos : pos + size], "big")
        pos += size
        return value

    locations = {}
    for _ in range(read(2 if version < 2 else 4)):
        item_id = read(2 if version < 2 else 4)
        method = read(2) & 0x0F if version in (1, 2) else 0
        read(2)  # data_reference_index
        base = read(base_offset_size)
        extents = []
        for _ in range(read(2)):
            read(index_size)
            offset, length = base + read(offset_size), read(length_size)
            if method == 1:  # in the idat box
                if idat_start is None:
                    raise ValueError("an item in idat, but no idat box")
                offset += idat_start
            elif method != 0:
                continue  # stored inside another item: not where Exif or XMP live
            if length == 0 or offset + length > len(data):
                raise ValueError(f"item {item_id} lies outside the file")
            extents.append((offset, length))
        locations[item_id] = extents
    return locations


def _overwrite(out: bytearray, extents: list[tuple[int, int]], replacement: bytes) -> None:
    done = 0
    for offset, length in extents:
        out[offset : offset + length] = replacement[done : done + length]
        done += length


# The formats stripped as bytes (JPEG is walked as it is read).
_STRIPPERS = {"PNG": _png, "WEBP": _webp, "HEIF": _isobmff, "AVIF": _isobmff, "GIF": _gif}
