"""Webhooks: each organisation's receivers are told when a job completes, fails or needs
review, with a JSON body signed by HMAC-SHA256 under a secret only they and the service know.

- :mod:`.events` — which event a finished job is, and the names receivers subscribe to.
- :mod:`.payload` — the JSON body (no secrets, no server paths).
- :mod:`.signing` / :mod:`.verify` — the ``KickFlow-Signature`` header and the receiver's check
  of it (with a replay window).
- :mod:`.backoff` — the retry schedule; :mod:`.sender` — one attempt through the SSRF-safe
  client (:mod:`kickflow.net`) and what its answer means.
- :mod:`.dispatcher` — the service's background loop: the finished-jobs feed into the outbox,
  the outbox out to the receivers.
- :mod:`.service` — what the API and the dashboard call (create with a secret shown once,
  list, update, delete, the delivery log, redeliver, test ping).
- :mod:`.secrets` — the signing secrets, generated and encrypted at rest; key rotation.

The guide for receivers is ``docs/webhooks.md``.
"""
