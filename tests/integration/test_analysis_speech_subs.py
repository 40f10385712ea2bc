"""The one analysis run's timed-text and speech outputs, on real files through real FFmpeg.

A generated clip: testsrc2 for 3 s, then SMPTE bars (a cut at 3.0 s), a mov_text stream, and an
audio stream that starts at 0.5 s and holds a tone from programme time 2.0 s.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest

from kickflow.engine import check_file
from kickflow.media.analysis import FFMPEG_SHARE, analyse
from kickflow.media.binaries import find_ffmpeg
from kickflow.media.graph import AnalysisOptions
from kickflow.media.inputs import SubtitleInput
from kickflow.media.model import MediaInfo, TrackSpeech
from kickflow.media.probing import ProbeLimits, probe
from kickflow.media.pse import PseOptions
from kickflow.media.runner import RunLimits
from kickflow.profiles import load_profile
from kickflow.speech import SPEECH_RATE
from tests.fixtures_media import MediaFactory

CUT_S = 3.0
FRAME_S = 1 / 25
AUDIO_START_S = 0.5
TONE_S = 2.0
AAC_FRAME = 1024 * SPEECH_RATE // 48000  # one AAC frame of the source, at the PCM's rate
SRT = (
    "1\n00:00:01,000 --> 00:00:02,500\nHello there\n\n"
    "2\n00:00:03,000 --> 00:00:04,000\n<i>Second</i> line\n"
)


def probed(path: Path) -> MediaInfo:
    return probe(path, path.stat().st_size, ProbeLimits())


@pytest.fixture(scope="module")
def srt_file(media_dir: Path) -> Path:
    path = media_dir / "lines.en.srt"
    path.write_text(SRT, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def cut_clip(make_media: MediaFactory, srt_file: Path) -> Path:
    """6 s: a cut at 3.0 s, English mov_text, audio from 0.5 s with a tone from 2.0 s."""
    tone = f"aevalsrc='if(gte(t,{TONE_S - AUDIO_START_S}),0.3*sin(2*PI*440*t),0)':s=48000:d=5.5"
    return make_media(
        "cut_subs.mp4",
        ["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:d=3",
         "-f", "lavfi", "-i", "smptebars=size=320x180:rate=25:d=3",
         "-itsoffset", str(AUDIO_START_S), "-f", "lavfi", "-i", tone,
         "-i", str(srt_file),
         "-filter_complex", "[0:v][1:v]concat=n=2:v=1:a=0[v]",
         "-map", "[v]", "-map", "2:a", "-map", "3",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
         "-c:s", "mov_text", "-metadata:s:s:0", "language=eng",
         "-metadata:s:s:0", "title=English"],
    )  # fmt: skip


class PcmReader:
    """A test SpeechRun: where the tone starts in each PCM file, and how long the file is."""

    def __init__(self) -> None:
        self.heard: dict[int, tuple[int, int]] = {}
        self.end_s = 0.0

    def __call__(self, files: Mapping[int, Path], end_s: float) -> tuple[TrackSpeech, ...]:
        self.end_s = end_s
        for position, pcm in files.items():
            samples = np.frombuffer(pcm.read_bytes(), dtype="<i2")
            onset = int(np.argmax(np.abs(samples) > 1000))
            self.heard[position] = (onset, len(samples))
        return tuple(TrackSpeech(p, analysed_s=n / SPEECH_RATE) for p, (_, n) in self.heard.items())


def test_probe_lists_subtitle_streams_with_their_tags(cut_clip: Path) -> None:
    media = probed(cut_clip)
    assert media.subtitle_streams == 1
    (stream,) = media.subtitles
    assert (stream.codec, stream.text, stream.language, stream.title) == (
        "mov_text", True, "eng", "English"
    )  # fmt: skip
    assert media.audio[0].start_s == pytest.approx(AUDIO_START_S, abs=0.03)


@pytest.mark.parametrize("pse", [None, PseOptions()], ids=["alone", "with-pse"])
def test_one_run_writes_cuts_and_padded_speech(cut_clip: Path, pse: PseOptions | None) -> None:
    reader = PcmReader()
    options = AnalysisOptions(shot_changes=True, speech_tracks=(1,), pse=pse)
    m = analyse(
        cut_clip,
        cut_clip.stat().st_size,
        binary=find_ffmpeg().path,
        options=options,
        limits=RunLimits(stall_seconds=60),
        speech=reader,
    )
    assert m.shot_changes is not None and len(m.shot_changes) == 1
    assert m.shot_changes[0] == pytest.approx(CUT_S, abs=FRAME_S)
    onset, length = reader.heard[1]
    # Sample 0 is programme time 0: the 0.5 s before the stream starts are padded.
    assert abs(onset - TONE_S * SPEECH_RATE) <= AAC_FRAME, onset
    assert abs(length - 6.0 * SPEECH_RATE) <= AAC_FRAME, length
    assert reader.end_s == pytest.approx(6.0, abs=0.05)
    assert [t.position for t in m.speech] == [1]
    assert (m.pse is not None) is (pse is not None)


def test_check_file_reads_embedded_and_sidecar_subtitles(
    cut_clip: Path, srt_file: Path, tmp_path: Path
) -> None:
    seen: list[float] = []
    report = check_file(
        cut_clip,
        load_profile("timed-text"),  # its shot-change rule is what turns the cuts on
        subtitles=[SubtitleInput(srt_file, "EP01.en.srt")],
        on_progress=seen.append,
        work_dir=tmp_path,
    )
    m = report.measurements
    sidecar, embedded = m.subtitles
    assert sidecar.name == "EP01.en.srt" and sidecar.stream_index is None
    assert embedded.stream_index == 2 and embedded.language == "eng"
    assert [(c.number, c.start_s, c.end_s, c.text) for c in embedded.cues] == [
        (1, 1.0, 2.5, "Hello there"),
        (2, 3.0, 4.0, "Second line"),
    ]
    assert m.shot_changes is not None and m.shot_changes[0] == pytest.approx(CUT_S, abs=FRAME_S)
    assert [t.position for t in m.speech] == [1]  # a text stream turns listening on
    assert m.speech[0].analysed_s == pytest.approx(6.0, abs=0.1)
    # Progress keeps moving after FFmpeg (reading, listening, judging) and ends at 1.
    assert seen == sorted(seen) and seen[-1] == 1.0
    assert len({round(f, 4) for f in seen if f > FFMPEG_SHARE * 0.98 - 1e-9}) >= 4, seen
    assert not list(tmp_path.iterdir())  # the run's work files are gone


def test_no_subtitles_no_shots_and_no_listening(cut_clip: Path, make_media: MediaFactory) -> None:
    plain = make_media(
        "plain_cut.mp4",
        ["-i", str(cut_clip), "-map", "0:v", "-map", "0:a", "-c", "copy"],
    )
    m = check_file(plain, load_profile("ebu-r128")).measurements
    assert m.subtitles == () and m.shot_changes is None and m.speech == ()


def test_bwf_time_reference_places_audio_findings_on_its_clock(
    make_media: MediaFactory,
) -> None:
    """10:00:00 as samples since midnight; 2 s of silence from 3 s is found at 10:00:03."""
    tone = "aevalsrc='if(between(t,3,5),0,0.3*sin(2*PI*440*t))':s=48000:d=8"
    path = make_media(
        "bwf.wav",
        ["-f", "lavfi", "-i", tone, "-c:a", "pcm_s24le", "-write_bext", "1",
         "-metadata", f"time_reference={10 * 3600 * 48000}"],
    )  # fmt: skip
    assert probed(path).timecode == "10:00:00.000"
    data = check_file(path, load_profile("ebu-r128")).to_dict()
    assert data["timecode"]["start"] == "10:00:00.000"
    assert data["timecode"]["source"] == "container"
    (silence,) = [f for f in data["findings"] if f["check"] == "audio.silence"]
    assert silence["timecode_start"][:10] == "10:00:03.0", silence
    assert silence["timecode"][:10] == "00:00:03.0"  # the elapsed clock is still there


def test_a_timecode_track_at_half_the_video_rate(make_media: MediaFactory, media_dir: Path) -> None:
    """A 50p picture whose tmcd counts 25 a second: its tag's frames are 25 fps frames."""
    written = make_media(
        "tc50.mov",
        ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=50:d=2", "-c:v", "libx264",
         "-preset", "ultrafast", "-timecode", "05:00:00:24"],
    )  # fmt: skip
    data = bytearray(written.read_bytes())
    entry = data.find(b"tmcd" + bytes(6) + b"\x00\x01")
    assert entry > 0 and struct.unpack_from(">IIB", data, entry + 20) == (12800, 256, 50)
    # The same frame count (900024) read at 25 a second: FFmpeg tags it 10:00:00:24.
    struct.pack_into(">IIB", data, entry + 20, 25, 1, 25)
    patched = media_dir / "tc50_tmcd25.mov"
    patched.write_bytes(data)
    assert probed(written).timecode == "05:00:00:24"  # same rate: the tag as written
    assert probed(patched).timecode == "10:00:00:48"  # 24 frames at 25 fps = 48 at 50
