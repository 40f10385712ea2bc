"""The pure parts of transcription: language tags, chunk planning, the map from chunk time to
programme time, Retry-After, and the profile's [speech.transcription] table."""

from __future__ import annotations

import pytest

from kickflow.errors import ProfileError
from kickflow.media.model import Segment
from kickflow.profiles import load_profile, load_profile_text
from kickflow.speech.chunks import JOIN_S, Chunk, Piece, pack, speech_runs
from kickflow.speech.language import (
    LANGUAGES,
    detect_text_language,
    display_name,
    iso1_of,
    normalise_language,
    same_language,
)
from kickflow.speech.transcribe import _answer, _transcript, retry_after_s

# --- language tags ----------------------------------------------------------------------------

DUBBING = "en fr de es it pt nl sv da no fi pl cs hu ro el tr ru uk ar he hi ja ko zh th vi id ms"


@pytest.mark.parametrize(
    ("tag", "iso3"),
    [
        ("fr", "fra"), ("fre", "fra"), ("fra", "fra"), ("fr-CA", "fra"), ("FR_fr", "fra"),
        ("French", "fra"), ("german", "deu"), ("ger", "deu"), ("nb", "nor"), ("nno", "nor"),
        ("zh-Hant", "zho"), ("chi", "zho"), ("cmn", "zho"), ("pt-BR", "por"), ("iw", "heb"),
        ("castilian", "spa"), ("yue", "yue"), ("gsw", "gsw"),
    ],
)  # fmt: skip
def test_tags_normalise_to_iso_639_3(tag: str, iso3: str) -> None:
    assert normalise_language(tag) == iso3


@pytest.mark.parametrize("tag", [None, "", "und", "mul", "zxx", "x", "qwerty-words", "12"])
def test_no_language_or_nonsense_is_none(tag: str | None) -> None:
    assert normalise_language(tag) is None


def test_the_common_dubbing_languages_are_all_in_the_table() -> None:
    known = {lang.iso1 for lang in LANGUAGES}
    assert set(DUBBING.split()) <= known
    assert len(LANGUAGES) >= 40
    assert len({lang.iso3 for lang in LANGUAGES}) == len(LANGUAGES)


def test_same_language_needs_evidence_on_both_sides() -> None:
    assert same_language("fre", "fr-FR") and same_language("English", "eng")
    assert not same_language("fr", "de")
    assert not same_language("und", "und") and not same_language(None, "en")
    assert not same_language("yue", "zh")  # a Cantonese dub is not a Mandarin one


def test_display_and_hint_forms() -> None:
    assert display_name("ger") == "German (deu)" and display_name("xx-YY") == "xx-YY"
    assert iso1_of("fre") == "fr" and iso1_of("yue") is None


@pytest.mark.parametrize(
    ("text", "iso3"),
    [
        ("Je ne sais pas ce que tu veux dire, mais nous partirons demain matin.", "fra"),
        ("No sé lo que quieres decir, pero nos iremos mañana por la mañana.", "spa"),
        ("Ich weiß nicht, was du meinst, aber wir fahren morgen früh los.", "deu"),
        ("Jeg ved ikke, hvad du mener, men vi tager af sted i morgen tidlig.", "dan"),
        ("Не знаю, что ты имеешь в виду, но мы уезжаем завтра утром.", "rus"),
    ],
)
def test_text_language_is_detected_offline(text: str, iso3: str) -> None:
    assert detect_text_language(f"{text}\n{text}") == iso3


def test_too_little_text_is_not_guessed() -> None:
    assert detect_text_language("♪ ♪ Oh! ♪") is None


# --- chunk planning ---------------------------------------------------------------------------


def test_runs_are_padded_clipped_and_merged_where_close() -> None:
    runs = speech_runs(
        [Segment(10.0, 12.0), Segment(0.05, 1.0), Segment(12.3, 13.0), Segment(29.9, 31.0)],
        30.0,
        pad_s=0.15,
        merge_gap_s=0.5,
    )
    assert runs == [Segment(0.0, 1.15), Segment(9.85, 13.15), Segment(29.75, 30.0)]


def test_packing_ends_each_chunk_between_runs_under_the_cap() -> None:
    runs = [Segment(0.0, 4.0), Segment(10.0, 14.0), Segment(20.0, 23.0), Segment(40.0, 49.0)]
    chunks = pack(runs, max_s=12.0)
    assert [[p.start_s for p in c.pieces] for c in chunks] == [[0.0, 10.0, 20.0], [40.0]]
    assert chunks[0].duration_s == pytest.approx(4 + JOIN_S + 4 + JOIN_S + 3)
    assert all(c.duration_s <= 12.0 for c in chunks)
    assert chunks[0].speech_s == 11.0


def test_chunk_time_maps_back_to_programme_time() -> None:
    chunk = Chunk((Piece(100.0, 2.0, 0.0), Piece(250.0, 3.0, 2.3)))
    assert chunk.to_programme(0.5) == 100.5
    assert chunk.to_programme(2.0, end=True) == 102.0
    assert chunk.to_programme(2.1) == 250.0  # in the join: the next run's start
    assert chunk.to_programme(2.1, end=True) == 102.0  # …or the previous run's end
    assert chunk.to_programme(3.3) == pytest.approx(251.0)
    assert chunk.to_programme(99.0, end=True) == 253.0


def test_the_answer_is_mapped_and_the_language_heard_longest_wins() -> None:
    chunk = Chunk((Piece(100.0, 2.0, 0.0), Piece(250.0, 3.0, 2.3)))
    data = {
        "language": "french",
        "segments": [
            {"start": 0.2, "end": 1.9, "text": " Bonjour."},
            {"start": 2.2, "end": 4.5, "text": " Ça va ?"},
            {"start": 4.6, "end": 4.9, "text": "  "},  # empty: dropped
            {"start": "x", "end": 5, "text": "bad times"},  # dropped
        ],
    }
    answer = _answer(chunk, data, 1000)
    assert [(s.start_s, s.end_s, s.text) for s in answer.segments] == [
        (100.2, 101.9, "Bonjour."),
        (250.0, 252.2, "Ça va ?"),
    ]
    other = _answer(Chunk((Piece(400.0, 1.0, 0.0),)), {"language": "english"}, 10)
    transcript = _transcript("m", [answer, other], 0.0)
    assert transcript.language == "fr" and transcript.bytes_sent == 1010
    assert transcript.requests == 2 and transcript.audio_seconds_sent == pytest.approx(6.3)


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after_s("7") == 7.0 and retry_after_s("0.5") == 0.5
    assert retry_after_s(None) is None and retry_after_s("soon") is None
    assert retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: no wait


# --- the profile ------------------------------------------------------------------------------


def test_transcription_is_off_and_optional_by_default() -> None:
    spec = load_profile("ebu-r128").speech.transcription
    assert (spec.enabled, spec.required, spec.language_hint) == (False, False, False)
    assert spec.budget_s == 3600.0


def test_a_profile_sets_the_transcription_table() -> None:
    text = 'extends = "ebu-r128"\nname = "t"\n[speech.transcription]\nenabled = true\n'
    spec = load_profile_text(text + "max_minutes_per_job = 5\n", "t").speech.transcription
    assert spec.enabled and spec.budget_s == 300.0
    with pytest.raises(ProfileError):
        load_profile_text(text + "max_minutes_per_job = 0\n", "t")
    with pytest.raises(ProfileError):
        load_profile_text(text + "provider = 'x'\n", "t")
