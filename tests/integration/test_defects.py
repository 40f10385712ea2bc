"""Each inserted defect is found at the right time (±0.5 s); a clean file yields none."""

from __future__ import annotations

from pathlib import Path

import pytest

from kickflow.media.graph import AnalysisOptions
from kickflow.media.model import Measurements
from tests.fixtures_media import LEGAL_PICTURE, STEREO_TONES, av_clip, run_ffmpeg_cli
from tests.integration.engine_helpers import assert_one_segment, measure_file

SECONDS = 8


@pytest.fixture(scope="module")
def clean(clean_clip: Path) -> Measurements:
    return measure_file(clean_clip)


def _hold(frame: int, count: int) -> str:
    """Repeat one frame ``count`` times from frame number ``frame`` (25 fps), keeping 8 s."""
    return f"loop=loop={count}:size=1:start={frame},setpts=N/25/TB,trim=duration={SECONDS}"


def _defect(media_dir: Path, name: str, **kwargs: object) -> Measurements:
    target = media_dir / f"defect-{name}.mp4"
    if not target.exists():
        av_clip(target, SECONDS, **kwargs)  # type: ignore[arg-type]
    return measure_file(target)


def test_clean_file_has_no_defects(clean: Measurements) -> None:
    video, audio = clean.video, clean.audio
    assert video is not None and audio is not None
    assert video.black == () and video.freeze == () and video.interlaced == ()
    assert max(s.out_of_range for s in video.levels) < 0.01
    assert audio.silence == () and audio.channel_silence == () and audio.clipping == ()
    assert not audio.mono_as_stereo and audio.out_of_phase == ()
    assert clean.decode_errors.count == 0
    assert video.crop is not None and (video.crop.width, video.crop.height) == (640, 360)


def test_black_segment(media_dir: Path) -> None:
    m = _defect(
        media_dir, "black", vf=f"{LEGAL_PICTURE},drawbox=c=black:t=fill:enable='between(t,3,5)'"
    )
    assert m.video is not None
    assert_one_segment(m.video.black, 3.0, 5.04)
    assert m.video.freeze == (), "a freeze inside black is the black segment"


def test_freeze_segment(media_dir: Path) -> None:
    m = _defect(media_dir, "freeze", vf=f"{LEGAL_PICTURE},{_hold(75, 50)}")
    assert m.video is not None
    assert_one_segment(m.video.freeze, 3.0, 5.04)
    assert m.video.black == ()


def test_freeze_to_the_end_is_closed_at_the_end(media_dir: Path) -> None:
    m = _defect(media_dir, "freeze-end", vf=f"{LEGAL_PICTURE},{_hold(150, 100)}")
    assert m.video is not None
    assert_one_segment(m.video.freeze, 6.0, SECONDS)


def test_silence_segment(media_dir: Path) -> None:
    audio = STEREO_TONES.replace("0.1*", "0.1*not(between(t\\,3\\,5.5))*")
    m = _defect(media_dir, "silence", audio=audio)
    assert m.audio is not None
    assert_one_segment(m.audio.silence, 3.0, 5.5)
    assert m.audio.channel_silence == ()


def test_dead_channel(media_dir: Path) -> None:
    m = _defect(media_dir, "dead-right", audio="aevalsrc=0.1*sin(2*PI*440*t)|0:s=48000")
    assert m.audio is not None
    assert m.audio.silence == ()
    assert_one_segment(m.audio.channel_silence, 0.0, SECONDS)
    assert m.audio.channel_silence[0].channel == 2


def test_clipping(media_dir: Path) -> None:
    audio = "aevalsrc=(0.5+2*between(t\\,3\\,4))*sin(2*PI*440*t)|0.5*sin(2*PI*660*t):s=48000"
    pcm = ["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "pcm_s16le"]
    target = media_dir / "defect-clipping.mov"
    if not target.exists():
        av_clip(target, SECONDS, audio=audio, codec_args=pcm)
    m = measure_file(target)
    assert m.audio is not None
    assert_one_segment(m.audio.clipping, 3.0, 4.0)


def test_out_of_range_levels(media_dir: Path) -> None:
    m = _defect(media_dir, "levels", vf=f"{LEGAL_PICTURE},lutyuv=y=250:enable='between(t,3,5)'")
    assert m.video is not None
    bad = [s.t for s in m.video.levels if s.out_of_range > 0.5]
    assert bad and abs(min(bad) - 3.0) <= 0.5 and abs(max(bad) - 5.0) <= 0.5
    assert all(s.out_of_range < 0.01 for s in m.video.levels if s.t < 2.5 or s.t > 5.5)


def test_interlaced_part(media_dir: Path) -> None:
    target = media_dir / "defect-interlaced.mp4"
    if not target.exists():
        graph = (
            "testsrc2=size=720x576:rate=25:d=4[p];"
            "testsrc2=size=720x576:rate=50:d=4,interlace=scan=tff[i];"
            "[p][i]concat=n=2:v=1[v]"
        )
        run_ffmpeg_cli(["-filter_complex", graph, "-map", "[v]", "-c:v", "libx264",
                        "-preset", "ultrafast", "-crf", "18", str(target)])  # fmt: skip
    m = measure_file(target)
    assert m.video is not None
    assert_one_segment(m.video.interlaced, 4.0, 8.0)


def test_letterbox_area(media_dir: Path) -> None:
    m = _defect(
        media_dir,
        "letterbox",
        vf=f"{LEGAL_PICTURE},drawbox=y=0:h=45:c=black:t=fill,drawbox=y=315:h=45:c=black:t=fill",
    )
    assert m.video is not None and m.video.crop is not None
    assert abs(m.video.crop.height - 270) <= 8
    assert abs(m.video.crop.y - 45) <= 8


def test_frame_accurate_mode_analyses_every_frame(clean_clip: Path) -> None:
    m = measure_file(clean_clip, AnalysisOptions(sample_fps=None))
    assert m.video is not None
    assert m.video.frames_analysed == 8 * 25


def test_decode_errors_are_counted_with_times(media_dir: Path) -> None:
    source = media_dir / "for-corruption.ts"
    av_clip(
        source,
        10,
        codec_args=["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-f", "mpegts"],
    )
    data = bytearray(source.read_bytes())
    middle = len(data) // 2 // 188 * 188  # damage 40 TS packets' payloads around the middle
    for k in range(40):
        start = middle + k * 10 * 188
        data[start + 4 : start + 188] = bytes((i * 37 + k) % 256 for i in range(184))
    damaged = media_dir / "damaged.ts"
    damaged.write_bytes(bytes(data))
    m = measure_file(damaged)
    assert m.decode_errors.count > 0
    assert all(3.0 <= t <= 8.0 for t in m.decode_errors.times_s), m.decode_errors.times_s
    assert m.decode_errors.samples
