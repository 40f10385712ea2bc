"""Secrets that people hold: password hashing (:mod:`kickflow.security.passwords`)."""
