"""Which character encoding a subtitle file is in, and its text.

Specs want UTF-8 (WebVTT allows nothing else); legacy files arrive as Windows-1252 or
UTF-16. The order is: a byte-order mark decides; then UTF-16 without a mark (every other byte
NUL); then strict UTF-8; only then a statistical guess (charset-normalizer), which is reported
as such by the encoding check, with the first line that is not UTF-8.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from charset_normalizer import from_bytes

from kickflow.subtitles.common import Unreadable

BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
LABELS = {
    "utf-8": "UTF-8",
    "utf-16-le": "UTF-16 (little-endian)",
    "utf-16-be": "UTF-16 (big-endian)",
    "utf-32-le": "UTF-32 (little-endian)",
    "utf-32-be": "UTF-32 (big-endian)",
    "cp1252": "Windows-1252",
    "latin-1": "ISO-8859-1 (Latin-1)",
    "iso8859-1": "ISO-8859-1 (Latin-1)",
    "iso8859-15": "ISO-8859-15 (Latin-9)",
    "cp1250": "Windows-1250",
    "cp1251": "Windows-1251",
    "mac-roman": "Mac Roman",
    "shift_jis": "Shift JIS",
    "cp932": "Shift JIS (Windows)",
    "euc_jp": "EUC-JP",
    "gb2312": "GB2312",
    "gb18030": "GB18030",
    "big5": "Big5",
    "euc_kr": "EUC-KR",
    "cp949": "Windows-949 (Korean)",
}
# The legacy Windows code page of languages whose text is not Western European.
CODE_PAGES = {
    **dict.fromkeys(("pol", "ces", "slk", "slv", "hrv", "hun", "ron", "bos"), "cp1250"),
    **dict.fromkeys(("rus", "ukr", "bul", "bel", "mkd", "srp"), "cp1251"),
    **dict.fromkeys(("lit", "lav", "est"), "cp1257"),
    "ell": "cp1253",
    "tur": "cp1254",
    "heb": "cp1255",
    "ara": "cp1256",
    "vie": "cp1258",
}
LATIN_PAGES = frozenset(
    {
        "cp1250", "cp1252", "cp1254", "cp1257", "cp1258", "iso8859-1", "iso8859-2",
        "iso8859-3", "iso8859-4", "iso8859-9", "iso8859-10", "iso8859-13", "iso8859-14",
        "iso8859-15", "iso8859-16", "mac-roman", "mac-latin2", "mac-iceland", "cp437",
        "cp850", "cp775", "hp-roman8",
    }
)  # fmt: skip
GUESS_BYTES = 128 * 1024
# Control characters other than tab, line feed and carriage return: text has next to none.
_CONTROL = frozenset(range(32)) - {9, 10, 13}


@dataclass(frozen=True)
class Decoded:
    text: str  # without the byte-order mark; line ends as written
    encoding: str  # Python codec name: utf-8, utf-16-le, cp1252 …
    bom: bool
    first_bad_line: int | None = None  # first line that is not valid UTF-8 (a legacy file)


def label(encoding: str) -> str:
    """The encoding as people name it: ``cp1252`` → ``Windows-1252``."""
    return LABELS.get(encoding, encoding.upper())


def family(encoding: str) -> str:
    """The encoding without its byte order: UTF-16 is UTF-16 whichever end comes first."""
    name = codecs.lookup(encoding).name
    return name.removesuffix("-le").removesuffix("-be")


def decode(data: bytes, *, partial: bool = False, language: str | None = None) -> Decoded:
    """The text of ``data``; ``partial`` when it is only the head of a file (a character cut
    at its end is dropped); ``language`` (ISO 639-3) helps name a legacy code page.
    Unreadable when the bytes are not text at all."""
    for bom, encoding in BOMS:
        if data.startswith(bom):
            return _checked(Decoded(_text(data[len(bom) :], encoding, partial), encoding, True))
    wide = _utf16_without_bom(data)
    if wide is not None:
        return _checked(Decoded(_text(data, wide, partial), wide, False))
    if b"\x00" in data:
        raise Unreadable("is binary data, not a subtitle file")
    try:
        return _checked(Decoded(_strict(data, "utf-8", partial), "utf-8", False))
    except UnicodeDecodeError as exc:
        bad_at = exc.start
    encoding = _legacy(data, bad_at, language)
    bad_line = data[:bad_at].count(b"\n") + 1
    return _checked(Decoded(_text(data, encoding, partial), encoding, False, bad_line))


def _legacy(data: bytes, bad_at: int, language: str | None) -> str:
    """The legacy code page of a file that is not UTF-8. The language's own code page when
    it reads the bytes; else charset-normalizer's guess on the bytes around the first
    non-UTF-8 one (guessing on 20 MB takes seconds, and the rest is ASCII timings anyway).
    Latin code pages decode most Western text equally well and the guess among them is
    noise ("crème" as Baltic "črčme"): Windows-1252, the Western default subtitle tools
    wrote for years, wins whenever it reads the bytes."""
    page = CODE_PAGES.get(language or "")
    if page is not None and _reads(data, page):
        return page
    matches = list(from_bytes(data[max(0, bad_at - GUESS_BYTES) : bad_at + GUESS_BYTES]))
    if not matches:
        raise Unreadable("is not text in any encoding KickFlow recognises")
    guess = codecs.lookup(min(matches, key=lambda m: (m.chaos, -m.coherence)).encoding).name
    if guess in LATIN_PAGES and _reads(data, "cp1252"):
        return "cp1252"
    return guess


def _reads(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _strict(data: bytes, encoding: str, partial: bool) -> str:
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    return str(decoder.decode(data, final=not partial))


def _text(data: bytes, encoding: str, partial: bool) -> str:
    """Decoded text; a byte the encoding cannot map becomes U+FFFD rather than an error, as
    the mark or the guess already said which encoding this is."""
    decoder = codecs.getincrementaldecoder(encoding)("replace")
    return str(decoder.decode(data, final=not partial))


def _utf16_without_bom(data: bytes) -> str | None:
    """``utf-16-le``/``-be`` when the zero bytes sit at every other position, as they do in
    UTF-16 text that is mostly Latin; None otherwise."""
    head = data[:4096]
    if len(head) < 8 or b"\x00" not in head:
        return None
    even, odd = head[0::2], head[1::2]
    if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
        return "utf-16-be"
    return None


def _checked(decoded: Decoded) -> Decoded:
    """Refuse text full of control characters: binary data that happened to decode."""
    sample = decoded.text[:65536]
    controls = sum(1 for ch in sample if ord(ch) in _CONTROL)
    if sample and controls > 0.01 * len(sample):
        raise Unreadable("is binary data, not a subtitle file")
    return decoded
