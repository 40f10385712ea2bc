"""Delivery-spec profiles: built-in TOML files and a loader for custom ones."""

from kickflow.profiles.loader import builtin_profile_names, load_profile, load_profile_text
from kickflow.profiles.model import CHECK_IDS, Profile, Severity

__all__ = [
    "CHECK_IDS",
    "Profile",
    "Severity",
    "builtin_profile_names",
    "load_profile",
    "load_profile_text",
]
