"""Language tags: ISO 639 normalisation and offline text-language detection.

Deliveries name languages every way there is: stream tags in ISO 639-2/B (``fre``, ``ger``) or
639-2/T (``fra``, ``deu``), file names in ISO 639-1 or BCP 47 (``EP01.fr-FR.srt``), the
transcription provider in English words (``"french"``). Everything is compared as ISO 639-3,
with macrolanguages kept whole (``nb``/``nn``/``no`` are all Norwegian, ``cmn`` is Chinese):
a dub is checked for being in the right language, not the right written standard.

Text detection uses lingua (n-gram models, offline) restricted to the languages of the table:
fewer candidates are both faster and more accurate, and a subtitle file is always in one of
the languages a studio dubs into.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lingua import LanguageDetector


@dataclass(frozen=True)
class LanguageCode:
    """One language of the table: ISO 639-3 (= 639-2/T), 639-1, 639-2/B and its names."""

    iso3: str
    iso1: str | None
    iso2b: str
    name: str
    aliases: tuple[str, ...] = ()  # other codes and names that mean this language


def _row(iso1: str, iso3: str, iso2b: str, name: str, *aliases: str) -> LanguageCode:
    return LanguageCode(iso3, iso1 or None, iso2b, name, aliases)


# The languages commonly dubbed or subtitled into, and those Whisper names (its English words).
LANGUAGES: tuple[LanguageCode, ...] = (
    _row("en", "eng", "eng", "English"),
    _row("fr", "fra", "fre", "French"),
    _row("de", "deu", "ger", "German"),
    _row("es", "spa", "spa", "Spanish", "castilian"),
    _row("it", "ita", "ita", "Italian"),
    _row("pt", "por", "por", "Portuguese"),
    _row("nl", "nld", "dut", "Dutch", "flemish"),
    _row("sv", "swe", "swe", "Swedish"),
    _row("da", "dan", "dan", "Danish"),
    _row("no", "nor", "nor", "Norwegian", "nb", "nob", "nn", "nno", "bokmal", "nynorsk"),
    _row("fi", "fin", "fin", "Finnish"),
    _row("is", "isl", "ice", "Icelandic"),
    _row("pl", "pol", "pol", "Polish"),
    _row("cs", "ces", "cze", "Czech"),
    _row("sk", "slk", "slo", "Slovak"),
    _row("sl", "slv", "slv", "Slovenian", "slovene"),
    _row("hr", "hrv", "hrv", "Croatian"),
    _row("sr", "srp", "srp", "Serbian"),
    _row("bs", "bos", "bos", "Bosnian"),
    _row("hu", "hun", "hun", "Hungarian"),
    _row("ro", "ron", "rum", "Romanian", "mo", "mol", "moldavian", "moldovan"),
    _row("bg", "bul", "bul", "Bulgarian"),
    _row("mk", "mkd", "mac", "Macedonian"),
    _row("el", "ell", "gre", "Greek"),
    _row("tr", "tur", "tur", "Turkish"),
    _row("ru", "rus", "rus", "Russian"),
    _row("uk", "ukr", "ukr", "Ukrainian"),
    _row("be", "bel", "bel", "Belarusian"),
    _row("et", "est", "est", "Estonian", "ekk"),
    _row("lv", "lav", "lav", "Latvian", "lvs"),
    _row("lt", "lit", "lit", "Lithuanian"),
    _row("sq", "sqi", "alb", "Albanian"),
    _row("ca", "cat", "cat", "Catalan", "valencian"),
    _row("eu", "eus", "baq", "Basque"),
    _row("gl", "glg", "glg", "Galician"),
    _row("cy", "cym", "wel", "Welsh"),
    _row("ga", "gle", "gle", "Irish"),
    _row("ar", "ara", "ara", "Arabic", "arb"),
    _row("he", "heb", "heb", "Hebrew", "iw"),
    _row("fa", "fas", "per", "Persian", "pes", "farsi"),
    _row("hi", "hin", "hin", "Hindi"),
    _row("bn", "ben", "ben", "Bengali", "bangla"),
    _row("ta", "tam", "tam", "Tamil"),
    _row("te", "tel", "tel", "Telugu"),
    _row("mr", "mar", "mar", "Marathi"),
    _row("gu", "guj", "guj", "Gujarati"),
    _row("pa", "pan", "pan", "Punjabi", "panjabi"),
    _row("ur", "urd", "urd", "Urdu"),
    _row("ja", "jpn", "jpn", "Japanese"),
    _row("ko", "kor", "kor", "Korean"),
    _row("zh", "zho", "chi", "Chinese", "cmn", "mandarin"),
    _row("", "yue", "yue", "Cantonese"),
    _row("th", "tha", "tha", "Thai"),
    _row("vi", "vie", "vie", "Vietnamese"),
    _row("id", "ind", "ind", "Indonesian", "in"),
    _row("ms", "msa", "may", "Malay", "zsm"),
    _row("tl", "tgl", "tgl", "Tagalog", "fil", "filipino"),
    _row("sw", "swa", "swa", "Swahili", "swh"),
    _row("af", "afr", "afr", "Afrikaans"),
    _row("hy", "hye", "arm", "Armenian"),
    _row("ka", "kat", "geo", "Georgian"),
    _row("az", "aze", "aze", "Azerbaijani"),
    _row("kk", "kaz", "kaz", "Kazakh"),
    _row("mn", "mon", "mon", "Mongolian"),
    _row("la", "lat", "lat", "Latin"),
)
# Tags that say "no particular language": they match nothing and are not an error.
NO_LANGUAGE = frozenset({"und", "mul", "zxx", "mis", "qaa", "none", "unknown"})
_SEPARATOR = re.compile(r"[-_]")


def _index() -> dict[str, LanguageCode]:
    index: dict[str, LanguageCode] = {}
    for lang in LANGUAGES:
        keys = (lang.iso3, lang.iso2b, lang.iso1 or "", lang.name, *lang.aliases)
        index.update({key.lower(): lang for key in keys if key})
    return index


BY_KEY = _index()


def language_of(tag: str | None) -> LanguageCode | None:
    """The table's row for a code or name (``fre``, ``fr-FR``, ``pt_BR``, ``French``)."""
    if not tag:
        return None
    text = tag.strip().lower()
    if text in BY_KEY:
        return BY_KEY[text]
    return BY_KEY.get(_SEPARATOR.split(text, maxsplit=1)[0])


def normalise_language(tag: str | None) -> str | None:
    """ISO 639-3 for a language tag or name; an unknown three-letter code is kept as written
    (it may well be a real 639-3 code); None for no tag, ``und`` and the like, or nonsense."""
    lang = language_of(tag)
    if lang is not None:
        return lang.iso3
    primary = _SEPARATOR.split((tag or "").strip().lower(), maxsplit=1)[0]
    if len(primary) == 3 and primary.isalpha() and primary not in NO_LANGUAGE:
        return primary
    return None


def same_language(a: str | None, b: str | None) -> bool:
    """Whether two tags name one language (``fr`` = ``fre`` = ``fra`` = ``fr-CA`` = French);
    False when either is missing or unknown: no evidence is not a match."""
    x, y = normalise_language(a), normalise_language(b)
    return x is not None and x == y


def display_name(tag: str | None) -> str:
    """``French (fra)`` for messages; the tag as written when the table does not know it."""
    lang = language_of(tag)
    if lang is None:
        return tag or "no language"
    return f"{lang.name} ({lang.iso3})"


def iso1_of(tag: str | None) -> str | None:
    """ISO 639-1 (what Whisper takes as a hint), when the language has one."""
    lang = language_of(tag)
    return lang.iso1 if lang is not None else None


# --- text detection ---------------------------------------------------------------------------

# Below this many letters a guess is noise (a cue file of "♪" and names).
MIN_LETTERS = 60
# Longer text adds time, not certainty: an evenly spread sample of the file is enough.
SAMPLE_CHARS = 6000
MIN_RELATIVE_DISTANCE = 0.1


@lru_cache(maxsize=1)
def _detector() -> LanguageDetector:
    """Built once per process, on first use: loading lingua's models takes a second, which a
    run without subtitles never pays."""
    from lingua import Language, LanguageDetectorBuilder

    wanted = {lang.iso3.upper() for lang in LANGUAGES}
    # lingua names the macrolanguages' written standards (Bokmål, Nynorsk) separately.
    wanted |= {"NOB", "NNO"}
    languages = [lang for lang in Language.all() if lang.iso_code_639_3.name in wanted]
    builder = LanguageDetectorBuilder.from_languages(*languages)
    # Low-accuracy mode (trigrams only): 60 MB and a second to load instead of 800 MB and
    # tens of seconds; a subtitle file gives far more than the ~120 characters it needs.
    builder = builder.with_minimum_relative_distance(MIN_RELATIVE_DISTANCE)
    return builder.with_low_accuracy_mode().build()


def sample_text(text: str, limit: int = SAMPLE_CHARS) -> str:
    """At most ``limit`` characters taken from the start, middle and end of ``text``."""
    if len(text) <= limit:
        return text
    third = limit // 3
    middle = len(text) // 2 - third // 2
    return " ".join((text[:third], text[middle : middle + third], text[-third:]))


def detect_text_language(text: str) -> str | None:
    """The ISO 639-3 code of the language ``text`` is written in, or None when there is too
    little text or lingua cannot tell (offline, the table's languages only)."""
    sample = sample_text(text)
    if sum(ch.isalpha() for ch in sample) < MIN_LETTERS:
        return None
    found = _detector().detect_language_of(sample)
    if found is None:
        return None
    return normalise_language(found.iso_code_639_3.name.lower())
