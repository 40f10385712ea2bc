"""KickFlow QC: media quality control against delivery specs."""

__version__ = "0.1.0"
