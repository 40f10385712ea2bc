"""The speech stage of an analysis: which tracks are listened to, and what is heard on them.

The decode writes each listened track as 16 kHz mono PCM (kickflow.speech.SPEECH_RATE), and
``SpeechStage`` runs voice activity on each file while it is written (``follow``: a thread per
track scores the growing file; the model releases the GIL), so that the scoring overlaps the
decode instead of following it. Once FFmpeg is done, the scores become segments and, when the
profile asks for it and a transcriber is configured, each track's speech goes to the
transcription provider. Without ``follow`` (a stage called on finished files) the files are
scored then, two at a time. A provider failure is kept on the track
(``transcription_error``) for the checks to report; it never fails the analysis.
"""

from __future__ import annotations

import threading
from array import array
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from kickflow.errors import TranscriptionUnavailable
from kickflow.media.model import AudioStream, MediaInfo, Segment, TrackSpeech
from kickflow.profiles import Profile
from kickflow.profiles.model import CHECK_IDS, TrackSpec
from kickflow.speech import SPEECH_RATE

if TYPE_CHECKING:  # the engine imports this module on every check: httpx only when used
    from kickflow.speech.transcribe import Transcriber

SPEAKING_ROLES = ("dialogue", "mix")  # and every language:<tag> track
VAD_THREADS = 2


def speaks(spec: TrackSpec) -> bool:
    """A layout entry whose track carries speech: dialogue, a mix, or a language track."""
    return spec.role in SPEAKING_ROLES or spec.role.startswith("language:")


def listened_tracks(
    profile: Profile, media: MediaInfo, *, subtitles: bool = False
) -> tuple[int, ...]:
    """The 1-based audio track positions to listen to; empty when speech analysis is off.

    The layout's dialogue, mix and language tracks (track 1 without a layout), and the
    tracks ``[speech]`` names as original and dubs.

    ``subtitles`` says the delivery came with sidecar subtitle files: with ``[speech] enabled``
    left out, that (or a text subtitle stream in the container) is what turns listening on.
    """
    if not _listening(profile, media, subtitles):
        return ()
    layout, count = profile.audio.tracks, len(media.audio)
    named = {profile.speech.original_track, *profile.speech.dub_tracks} - {None}
    speaking = {p for p, spec in enumerate(layout, 1) if speaks(spec)} if layout else {1}
    return tuple(sorted(p for p in speaking | named if p is not None and p <= count))


def _listening(profile: Profile, media: MediaInfo, subtitles: bool) -> bool:
    checks = [c for c in CHECK_IDS if c.startswith("speech.")]
    if all(profile.severity_of(c) == "off" for c in checks):
        return False
    if profile.speech.enabled is None:
        return subtitles or any(s.text for s in media.subtitles)
    return profile.speech.enabled


class _Follower(NamedTuple):
    """One track scored while it is written: its scores to come, its lead, its file open."""

    scores: Future[array[float]]
    lead_s: float
    opened: threading.Event


class SpeechStage:
    """A ``SpeechRun`` for the analysis: track position → its PCM file in, speech out."""

    def __init__(
        self,
        profile: Profile,
        tracks: Sequence[AudioStream],
        transcriber: Transcriber | None,
    ) -> None:
        self._profile = profile
        self._tracks = tuple(tracks)
        self._transcriber = transcriber if profile.speech.transcription.enabled else None
        self._written = threading.Event()
        self._stop = threading.Event()
        self._followers: ThreadPoolExecutor | None = None
        self._live: dict[int, _Follower] = {}

    def follow(self, files: Mapping[int, Path], leads: Mapping[int, float]) -> None:
        """Score each track's PCM while the run writes it. ``leads``: how much later than the
        programme a track starts (its file gets that much silence put before it afterwards,
        so its segments move by as much)."""
        if not files:
            return
        self._followers = ThreadPoolExecutor(len(files), thread_name_prefix="kickflow-vad")
        for position, pcm in files.items():
            opened = threading.Event()
            scores = self._followers.submit(self._scores, pcm, opened)
            self._live[position] = _Follower(scores, leads.get(position, 0.0), opened)

    def _scores(self, pcm: Path, opened: threading.Event) -> array[float]:
        # Imported here, on the follower's thread: numpy and the model (~70 ms) load while
        # FFmpeg starts instead of before it.
        from kickflow.speech.vad import window_scores

        try:
            return array("f", window_scores(pcm, self._written, self._stop, opened))
        finally:
            opened.set()  # also when the import or the read failed: nobody waits for it

    def written(self, *, complete: bool) -> None:
        """The run ended: the files are whole (``complete``), or nobody wants them.

        Returns once every follower has its file open: the analysis then puts each late
        track's lead of silence in by replacing the file, which must not reach a follower
        that had not opened it yet (its segments move by the lead instead)."""
        if not complete:
            self._stop.set()
        self._written.set()
        for follower in self._live.values():
            follower.opened.wait()
        if self._followers is not None:  # the scores are waited for where they are read
            self._followers.shutdown(wait=False, cancel_futures=not complete)

    def __call__(self, files: Mapping[int, Path], end_s: float) -> tuple[TrackSpeech, ...]:
        """Voice activity of every file that was written, then transcripts if asked for."""
        present = sorted(p for p, pcm in files.items() if pcm.is_file())
        with ThreadPoolExecutor(max_workers=VAD_THREADS) as pool:
            heard = list(pool.map(lambda p: self.listen(p, files[p], end_s), present))
        return tuple(self._transcribed(track, files[track.position]) for track in heard)

    def listen(self, position: int, pcm: Path, end_s: float) -> TrackSpeech:
        """The speech segments of one track, cut at the programme's end (from the scores
        taken while it was written, when they were)."""
        from kickflow.speech.vad import speech_segments  # numpy and the model: when listening

        spec = self._profile.speech
        live = self._live.get(position)
        found = speech_segments(
            pcm if live is None else live.scores.result(),
            threshold=spec.vad_threshold,
            min_speech_s=spec.min_speech_s,
            min_silence_s=spec.min_silence_s,
            pad_s=spec.pad_s,
        )
        if live is not None and live.lead_s > 0:
            lead = live.lead_s
            found = tuple(
                Segment(round(s.start_s + lead, 3), round(s.end_s + lead, 3)) for s in found
            )
        heard_s = pcm.stat().st_size / 2 / SPEECH_RATE
        limit = min(heard_s, end_s) if end_s > 0 else heard_s
        inside = tuple(Segment(s.start_s, min(s.end_s, limit)) for s in found if s.start_s < limit)
        return TrackSpeech(position=position, segments=inside, analysed_s=round(limit, 3))

    def _transcribed(self, track: TrackSpeech, pcm: Path) -> TrackSpeech:
        if self._transcriber is None or not track.segments:
            return track
        hint = self._profile.speech.transcription.language_hint
        language = self.language_of(track.position) if hint else None
        try:
            transcript = self._transcriber.transcribe(pcm, track.segments, language=language)
        except TranscriptionUnavailable as exc:
            return replace(track, transcription_error=exc.message)
        return replace(track, transcript=transcript)

    def language_of(self, position: int) -> str | None:
        """The language a track should be in: its layout entry's, else its stream tag."""
        layout = self._profile.audio.tracks
        if position <= len(layout) and layout[position - 1].expected_language:
            return layout[position - 1].expected_language
        if position <= len(self._tracks):
            return self._tracks[position - 1].language
        return None
