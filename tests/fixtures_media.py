"""Media fixtures generated with FFmpeg lavfi sources."""
