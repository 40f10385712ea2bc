"""Timed text: reading delivered subtitle files (SRT, WebVTT, TTML/IMSC, ASS/SSA) into cues.

``load`` is the door: it refuses what is not subtitles, detects the encoding, reads the cues
with their source lines and lists what could not be read as written. The ``subtitle.*`` checks
(checks/subtitles.py) judge the cues against a profile's ``[subtitles]`` rules.
"""
