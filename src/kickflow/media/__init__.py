"""Everything that talks to FFmpeg: runner, probe, one-pass analysis, and their parsers."""
