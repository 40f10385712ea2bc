"""Reading subtitle files: formats, encodings, languages, source lines, and hostile input
(too big, binary, HTML, XML bombs, a million cues) refused or reported in one sentence."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from kickflow.errors import SubtitleRefused
from kickflow.subtitles import common, ttml
from kickflow.subtitles.common import Unreadable
from kickflow.subtitles.load import check_subtitle_file, load_subtitle_file, parse_subtitle_bytes
from tests.fixtures_subtitles import WRITERS, cue

MAX_BYTES = 20_000_000
CUES = [
    cue(1.0, 2.5, "Hello there,", "my friend.", markup="italic"),
    cue(3.0, 4.0, "Second cue", markup="color"),
    cue(3661.5, 3663.0, "An hour later"),
]


@pytest.mark.parametrize("fmt", list(WRITERS))
def test_every_format_reads_the_same_cues(fmt: str) -> None:
    ext, write = WRITERS[fmt]
    loaded = parse_subtitle_bytes(write(CUES).encode(), f"EP01.en{ext}")
    assert (loaded.error, loaded.problems, loaded.format) == (None, (), fmt)
    assert [(c.number, c.start_s, c.end_s, c.text) for c in loaded.cues] == [
        (1, 1.0, 2.5, "Hello there,\nmy friend."),
        (2, 3.0, 4.0, "Second cue"),
        (3, 3661.5, 3663.0, "An hour later"),
    ]
    assert loaded.language == "en" and loaded.encoding == "utf-8" and not loaded.bom
    assert all(c.line for c in loaded.cues)
    assert loaded.cues[0].raw != loaded.cues[0].text  # the markup is kept in raw


def test_source_lines_of_srt_and_vtt_cues() -> None:
    srt = parse_subtitle_bytes(WRITERS["srt"][1](CUES).encode(), "a.srt")
    assert [c.line for c in srt.cues] == [1, 6, 10]
    vtt = parse_subtitle_bytes(WRITERS["vtt"][1](CUES).encode(), "a.vtt")
    assert [c.line for c in vtt.cues] == [5, 9, 12]  # after the header and a NOTE block


def test_the_language_comes_from_the_name_then_the_document() -> None:
    doc = WRITERS["ttml"][1](CUES).replace('xml:lang="en"', 'xml:lang="fr"').encode()
    assert parse_subtitle_bytes(doc, "EP01.xml").language == "fr"
    assert parse_subtitle_bytes(doc, "EP01.fr-CA.xml").language == "fr-CA"
    assert parse_subtitle_bytes(doc, "EP01.xml", language="deu").language == "deu"
    srt = WRITERS["srt"][1](CUES).encode()
    for name, language in [
        ("EP01.en.srt", "en"),
        ("EP01.fr-CA.srt", "fr-CA"),
        ("Show.S01E01.eng.sdh.srt", "eng"),
        ("EP01.en.hi.srt", "en"),
        ("EP01.hi.srt", "hi"),
        ("the.boy.srt", None),
        ("EP01.Final.srt", None),
        ("EP01.srt", None),
    ]:
        assert parse_subtitle_bytes(srt, name).language == language, name


@pytest.mark.parametrize(
    ("encoded", "encoding", "bom", "bad_line"),
    [
        ("Café".encode(), "utf-8", False, None),
        (b"\xef\xbb\xbf" + "Café".encode(), "utf-8", True, None),
        ("Café".encode("utf-16"), "utf-16-le", True, None),
        ("Café".encode("utf-16-be"), "utf-16-be", False, None),
        ("Café crème brûlée".encode("cp1252"), "cp1252", False, 3),
    ],
)
def test_the_encoding_is_detected(
    encoded: bytes, encoding: str, bom: bool, bad_line: int | None
) -> None:
    text = "1\n00:00:01,000 --> 00:00:02,000\n".encode(_codec(encoding, bom))
    if bom and encoding == "utf-8":
        data = b"\xef\xbb\xbf" + text + encoded[3:]
    elif encoding.startswith("utf-16"):
        data = ("1\n00:00:01,000 --> 00:00:02,000\nCafé").encode(_codec(encoding, bom))
    else:
        data = text + encoded
    loaded = parse_subtitle_bytes(data, "x.fr.srt")
    assert (loaded.encoding, loaded.bom, loaded.encoding_line) == (encoding, bom, bad_line)
    assert loaded.cues[0].text.startswith("Café")


def _codec(encoding: str, bom: bool) -> str:
    return "utf-16" if encoding == "utf-16-le" and bom else encoding


def test_srt_problems_are_reported_at_their_line() -> None:
    text = (
        "1\n00:00:01,000 --> 00:00:02,000\nOne\n\n"  # lines 1-3
        "2\n00:00:03.000 --> 00:00:04,000\nDot\n\n"  # 5-7: a dot, still read
        "3\n00:00:05,000 --> 00:00:0x,000\nBroken\n\n"  # 9-11: cannot be read
        "4\n00:00:07,000 --> 00:00:08,000\nFour\n\nstray words\n\n"  # 13-15, 17
        "5\n00:00:09,000 --> 00:00:10,000\nFive\n"  # 19-21
        "6\n00:00:11,000 --> 00:00:12,000\nNo blank line above\n"  # 22-24
    )
    loaded = parse_subtitle_bytes(text.encode(), "EP01.srt")
    assert [(c.number, c.text, c.line) for c in loaded.cues] == [
        (1, "One", 1),
        (2, "Dot", 5),
        (3, "Four", 13),
        (4, "Five", 19),
        (5, "No blank line above", 22),
    ]
    assert [(p.line, p.message) for p in loaded.problems] == [
        (6, "the timing “00:00:03.000 --> 00:00:04,000” is not HH:MM:SS,mmm --> "
            "HH:MM:SS,mmm; read as written"),
        (10, "the timing “00:00:05,000 --> 00:00:0x,000” is not HH:MM:SS,mmm --> "
             "HH:MM:SS,mmm; the cue is left out"),
        (17, "text that belongs to no cue: “stray words” (a blank line inside a cue, or a "
             "missing timing line?)"),
        (22, "no blank line before this cue"),
    ]  # fmt: skip


def test_vtt_problems_are_reported_at_their_line() -> None:
    text = (
        "WEBVTTX\n\n"
        "00:01.000 --> 00:02.000\nOne\n\n"
        "00:03,000 --> 00:04.000\nComma\n\n"
        "00:05.000 --> 00:06.000\nFive\n\n"
        "00:00.500 --> 00:01.000\nOut of order\n"
    )
    loaded = parse_subtitle_bytes(text.encode(), "EP01.vtt")
    assert [c.text for c in loaded.cues] == ["One", "Five", "Out of order"]
    assert [(p.line, p.message) for p in loaded.problems] == [
        (1, "a WebVTT file must start with WEBVTT"),
        (1, "text that belongs to no cue: “WEBVTTX” (a blank line inside a cue, or a missing "
            "timing line?)"),
        (6, "the timing “00:03,000 --> 00:04.000” is not [hh:]mm:ss.ttt --> [hh:]mm:ss.ttt; "
            "the cue is left out"),
        (12, "cue 3 starts before cue 2 above it"),
    ]  # fmt: skip


def test_ttml_times_in_frames_and_ticks() -> None:
    doc = (
        '<tt xmlns="http://www.w3.org/ns/ttml" xmlns:ttp="http://www.w3.org/ns/ttml#parameter"'
        ' ttp:frameRate="25" ttp:tickRate="10000000" xml:lang="ja">\n'
        '<body begin="1s"><div begin="00:00:01:00">\n'
        '<p begin="00:00:01:12" end="00:00:02:00">Frames</p>\n'
        '<p begin="50000000t" dur="2s">Ticks <span>and</span><br/>spans</p>\n'
        '<p begin="12f" end="2.5s"><metadata>hidden</metadata>Offsets</p>\n'
        '<p begin="nonsense" end="3s">Unreadable</p>\n'
        "</div></body></tt>\n"
    )
    loaded = parse_subtitle_bytes(doc.encode(), "EP01.ttml")
    assert [(c.start_s, c.end_s, c.text, c.line) for c in loaded.cues] == [
        (3.48, 4.0, "Frames", 3),
        (7.0, 9.0, "Ticks and\nspans", 4),
        (2.48, 4.5, "Offsets", 5),
    ]
    assert loaded.language == "ja"
    assert [(p.line, p.message) for p in loaded.problems] == [
        (6, "the begin time “nonsense” cannot be read"),
        (6, "the cue's times cannot be read; the cue is left out"),
    ]


def test_ass_event_problems_are_reported_and_the_rest_read() -> None:
    script = WRITERS["ass"][1](CUES).replace(
        "Dialogue: 0,0:00:03.00",
        "Comment: 0,0:00:02.50,0:00:02.60,Default,,0,0,0,,note\n"
        "Dialogue: 0,0:00:0x.00,0:00:05.00,Default,,0,0,0,,bad\nDialogue: 0,0:00:03.00",
    )
    loaded = parse_subtitle_bytes(script.encode(), "EP01.ass")
    assert [(c.number, c.text) for c in loaded.cues] == [
        (1, "Hello there,\nmy friend."),
        (2, "Second cue"),
        (3, "An hour later"),
    ]
    (problem,) = loaded.problems
    assert problem.message == "the start time “0:00:0x.00” is not H:MM:SS.cc; the event is left out"
    second = loaded.cues[1].line
    assert second is not None and problem.line == second - 1  # the line above the second cue


def test_a_name_that_promises_another_format_is_a_problem() -> None:
    loaded = parse_subtitle_bytes(WRITERS["vtt"][1](CUES).encode(), "EP01.en.srt")
    assert loaded.format == "vtt" and len(loaded.cues) == 3
    assert [p.message for p in loaded.problems] == ["the file is named .srt but contains WebVTT"]


def test_an_embedded_stream_reads_by_its_codec() -> None:
    data = WRITERS["srt"][1](CUES).encode()
    loaded = parse_subtitle_bytes(
        data, "stream #3 (subrip)", format_hint="subrip", language="fra", stream_index=3
    )
    assert (loaded.format, loaded.language, loaded.stream_index) == ("srt", "fra", 3)
    assert len(loaded.cues) == 3


# --- hostile input --------------------------------------------------------------------------


def refused(tmp_path: Path, name: str, data: bytes | None = None, size: int = 0) -> str:
    """The sentence check_subtitle_file refuses ``data`` (or a sparse file) with; it must also
    be what load_subtitle_file reports, and neither may show the server path."""
    path = tmp_path / name
    with path.open("wb") as out:
        if data is not None:
            out.write(data)
        else:
            out.truncate(size)  # sparse: the size is real, the disk is not used
    with pytest.raises(SubtitleRefused) as caught:
        check_subtitle_file(path, f"/srv/uploads/{name}", max_bytes=MAX_BYTES)
    loaded = load_subtitle_file(path, name, max_bytes=MAX_BYTES)
    assert loaded.error == caught.value.message and not loaded.cues
    assert str(tmp_path) not in caught.value.message and "/srv" not in caught.value.message
    assert caught.value.code == "subtitle_refused"
    return caught.value.message


def test_a_200_mb_file_is_refused_by_its_size(tmp_path: Path) -> None:
    message = refused(tmp_path, "EP01.en.srt", size=200_000_000)
    assert message == (
        "EP01.en.srt is 200 MB; subtitle files are accepted up to 20 MB "
        "(a feature film's subtitles are well under 1 MB)"
    )


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("EP01.srt", b"", "EP01.srt is empty (0 bytes)"),
        ("EP01.srt", os.urandom(50_000), "EP01.srt is binary data, not a subtitle file"),
        (
            "EP01.vtt",
            b"<!DOCTYPE html>\n<html><head><title>404</title></head><body>Not found</body></html>",
            "EP01.vtt is an HTML page, not a subtitle file",
        ),
        (
            "EP01.srt",
            b"Dear vendor,\nplease find the subtitles attached.\n",
            "EP01.srt is not a subtitle file: it has none of SRT's cue timings",
        ),
        (
            "EP01.stl",
            b"850STL25.01\x31\x00" + b" " * 1000,
            "EP01.stl is binary data, not a subtitle file",
        ),
        (
            "notes.docx",
            b"Just some words",
            "notes.docx is not a subtitle file KickFlow can read "
            "(send SRT, WebVTT, TTML or ASS/SSA)",
        ),
        (
            "EP01.scc",
            b"Scenarist_SCC V1.0\n\n00:00:00:00\t9420 9420\n",
            "EP01.scc is Scenarist SCC captions, which KickFlow does not read: send SRT, WebVTT, "
            "TTML or ASS/SSA",
        ),
        (
            "EP01.xml",
            b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>',
            "EP01.xml is an XML document but not TTML (no <tt> element in the TTML namespace)",
        ),
    ],
)
def test_what_is_not_subtitles_is_refused_in_one_sentence(
    tmp_path: Path, name: str, data: bytes, message: str
) -> None:
    assert refused(tmp_path, name, data) == message


def _bomb() -> bytes:
    """Billion laughs: ten entities, each ten of the one before (10^10 bytes expanded)."""
    names = "abcdefghij"
    entities = [' <!ENTITY a "aaaaaaaaaa">']
    entities += [f' <!ENTITY {n} "{("&" + p + ";") * 10}">' for p, n in itertools.pairwise(names)]
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE tt [\n' + "\n".join(entities) + "\n]>\n"
        '<tt xmlns="http://www.w3.org/ns/ttml"><body><div>'
        '<p begin="0s" end="1s">&j;</p></div></body></tt>\n'
    ).encode()


BOMB = _bomb()
DECLARED = (
    "is refused: its XML declares a DOCTYPE or entities, which TTML does not use "
    "(entity expansion can exhaust memory)"
)


def test_an_xml_bomb_is_refused_without_expanding_it(tmp_path: Path) -> None:
    assert refused(tmp_path, "EP01.xml", BOMB) == f"EP01.xml {DECLARED}"


def test_the_ttml_reader_itself_refuses_a_doctype() -> None:
    """Beyond the sniffed head the reader's own guard holds: expat's DOCTYPE handler."""
    padded = '<?xml version="1.0"?>\n<!-- ' + "x" * 70_000 + " -->\n"
    padded += BOMB.decode().split("?>\n", 1)[1]
    with pytest.raises(Unreadable, match="declares a DOCTYPE"):
        ttml.read_ttml(padded)
    assert parse_subtitle_bytes(padded.encode(), "EP01.xml").error is not None


def test_hostile_ttml_is_reported_in_one_sentence() -> None:
    deep = (
        '<tt xmlns="http://www.w3.org/ns/ttml"><body><div><p begin="0s" end="1s">'
        + "<span>" * 500
        + "x"
        + "</span>" * 500
        + "</p></div></body></tt>"
    )
    assert parse_subtitle_bytes(deep.encode(), "EP01.xml").error == (
        "EP01.xml nests XML elements more than 100 deep"
    )
    cut = b'<tt xmlns="http://www.w3.org/ns/ttml"><body><div><p begin="0s" end="1s">half'
    assert parse_subtitle_bytes(cut, "EP01.xml").error == (
        "EP01.xml is not well-formed XML (line 1: no element found)"
    )
    rates = b'<tt xmlns="http://www.w3.org/ns/ttml" xmlns:ttp="http://www.w3.org/ns/ttml#parameter"'
    rates += b' ttp:frameRate="0"><body/></tt>'
    assert parse_subtitle_bytes(rates, "EP01.xml").error == (
        "EP01.xml has a ttp: time parameter that is not a positive number"
    )


def test_a_million_cues_are_refused_before_parsing() -> None:
    data = b"1\n00:00:00,000 --> 00:00:00,500\nx\n\n" * 1_000_001
    loaded = parse_subtitle_bytes(data, "EP01.srt")
    assert loaded.error == (
        "EP01.srt has more than 100,000 cues (a feature film has about 1,500): it was not read"
    )


def test_the_cue_cap_holds_in_ttml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ttml, "MAX_CUES", 10)
    many = [cue(i, i + 0.5, f"cue {i}") for i in range(11)]
    loaded = parse_subtitle_bytes(WRITERS["ttml"][1](many).encode(), "EP01.xml")
    assert loaded.error is not None and "more than 100,000 cues" in loaded.error
    assert common.MAX_CUES == 100_000


def test_a_file_that_exists_and_reads_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "upload-1234"
    path.write_bytes(WRITERS["ttml"][1](CUES).encode())
    check_subtitle_file(path, "EP01.en.xml", max_bytes=MAX_BYTES)
    loaded = load_subtitle_file(path, "EP01.en.xml", max_bytes=MAX_BYTES)
    assert (loaded.name, loaded.error, len(loaded.cues)) == ("EP01.en.xml", None, 3)
    assert loaded.size_bytes == path.stat().st_size


def test_a_missing_file_is_refused_by_its_name(tmp_path: Path) -> None:
    with pytest.raises(SubtitleRefused, match=r"^EP01\.srt: no such file$"):
        check_subtitle_file(tmp_path / "nope", "EP01.srt", max_bytes=MAX_BYTES)
    assert load_subtitle_file(tmp_path / "nope", "EP01.srt", max_bytes=MAX_BYTES).error == (
        "EP01.srt: no such file"
    )


def test_a_legacy_code_page_is_named_by_the_language_when_it_reads() -> None:
    text = "1\n00:00:01,000 --> 00:00:02,000\nZażółć gęślą jaźń\n"
    polish = parse_subtitle_bytes(text.encode("cp1250"), "EP01.pl.srt")
    assert (polish.encoding, polish.cues[0].text) == ("cp1250", "Zażółć gęślą jaźń")
    russian = "1\n00:00:01,000 --> 00:00:02,000\nПривет, как дела? Всё хорошо, спасибо.\n"
    assert parse_subtitle_bytes(russian.encode("cp1251"), "EP01.srt").encoding == "cp1251"
    western = "".join(
        f"{n}\n00:00:01,000 --> 00:00:02,000\nCafé crème numéro {n}, déjà vu\n\n"
        for n in range(1, 2000)
    )
    assert parse_subtitle_bytes(western.encode("cp1252"), "EP01.fr.srt").encoding == "cp1252"
