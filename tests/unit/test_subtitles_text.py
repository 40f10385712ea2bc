"""Cue text helpers: plain text, markup kinds in every format, counting characters as the
specs count, and languages from tags, names and scripts."""

from __future__ import annotations

import pytest

from kickflow.subtitles.text import (
    language_key,
    line_width,
    markup_kinds,
    plain_lines,
    script_language,
    text_width,
)


@pytest.mark.parametrize(
    ("raw", "fmt", "plain"),
    [
        ("<i>Hello</i> {\\an8}there\n  second  ", "srt", "Hello there\nsecond"),
        ("<v Bob>Fish &amp; chips</v> <00:00:01.000>now", "vtt", "Fish & chips now"),
        ("{\\i1}Hello{\\i0}\\Nworld\\hagain", "ass", "Hello\nworld again"),
        ("{\\p1}m 0 0 l 10 10{\\p0}Shape gone", "ass", "Shape gone"),
        ("\n\n<i></i>\n", "srt", ""),
    ],
)
def test_plain_text_is_what_a_viewer_reads(raw: str, fmt: str, plain: str) -> None:
    assert plain_lines(raw, fmt) == plain


@pytest.mark.parametrize(
    ("raw", "fmt", "kinds"),
    [
        ("<i>a</i> <b>b</b> <u>c</u>", "srt", {"italic", "bold", "underline"}),
        ('<font color="#ff0">a</font> <font face="Arial">b</font>', "srt", {"color", "font"}),
        ("{\\an8}Top", "srt", {"position"}),
        ("<c.yellow>a</c> <v Bob>b <ruby>c<rt>d</rt></ruby>", "vtt", {"class", "voice", "ruby"}),
        ("<00:00:01.000>karaoke <lang en>x</lang>", "vtt", {"karaoke", "other"}),
        ("{\\i1\\b1\\fnArial\\fs20\\1c&H00FF00&\\pos(1,2)\\k20\\fad(1,2)}x", "ass",
         {"italic", "bold", "font", "color", "position", "karaoke", "other"}),
        ("{\\shad2\\bord1\\be1}x", "ass", {"other"}),
        ('<p tts:fontStyle="italic"><span tts:color="red" tts:fontWeight="bold">x</span></p>',
         "ttml", {"italic", "color", "bold"}),
        ('<p tts:fontStyle="normal" tts:fontWeight="normal" region="bottom">x</p>', "ttml", set()),
        ('<p tts:textDecoration="underline" tts:origin="10% 80%">x</p>', "ttml",
         {"underline", "position"}),
        ("Just words, 2 < 3 > 1", "srt", set()),
    ],
)  # fmt: skip
def test_markup_kinds_in_every_format(raw: str, fmt: str, kinds: set[str]) -> None:
    assert markup_kinds(raw, fmt) == kinds


def test_characters_count_as_the_specs_count() -> None:
    assert line_width("Hello, world!", cjk=False) == 13  # spaces and punctuation count
    assert line_width("e\u0301te\u0301", cjk=False) == 3  # combining accents count 0
    assert line_width("สวัสดี", cjk=False) == 4  # Thai vowel and tone marks count 0
    assert line_width("日本語です", cjk=True) == 5  # full-width: 1
    assert line_width("ABC 123", cjk=True) == 3.5  # half-width: 0.5
    assert line_width("ｱｲｳ", cjk=True) == 1.5  # half-width katakana
    assert line_width("「はい」…", cjk=True) == 5  # full-width punctuation and the ellipsis
    assert text_width("one\ntwo", cjk=False) == 6  # line breaks do not count


@pytest.mark.parametrize(
    ("tag", "key"),
    [("en", "eng"), ("fr-CA", "fra"), ("ger", "deu"), ("zh-Hant", "zho"), ("JA", "jpn"),
     ("", None), (None, None), ("und", None)],
)  # fmt: skip
def test_language_keys_match_however_a_tag_is_written(tag: str | None, key: str | None) -> None:
    assert language_key(tag) == key


def test_the_script_tells_cjk_languages_apart() -> None:
    assert script_language("こんにちは、世界") == "jpn"
    assert script_language("안녕하세요 세계") == "kor"
    assert script_language("你好，世界") == "zho"
    assert script_language("Hello world, 世") is None
    assert script_language("") is None
