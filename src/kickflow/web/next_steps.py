"""What to do next about a failed job, in plain words, by its error code.

Every code :mod:`kickflow.errors` defines has an entry (a test walks them), plus the codes the
job system writes itself (the reaper's ``lease_expired`` and ``no_progress``, a worker's
``internal_error``, an operator's ``cancelled_stuck``). Codes that belong to a request rather
than to a job (a refused form, a wrong password) share one sentence: if one ever ends up on a
job, the page still says something useful. Advice may name a limit from the settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from kickflow.config import Settings


@dataclass(frozen=True)
class NextStep:
    """What happened, what to do, and whether pressing Retry can help."""

    what: str
    advice: str
    retry_helps: bool


def _file(what: str, advice: str) -> NextStep:
    return NextStep(what, advice, retry_helps=False)


def _passing(what: str, advice: str) -> NextStep:
    return NextStep(what, advice, retry_helps=True)


REDELIVER = "check it is the right file and re-deliver it"
RETRY_SOON = "KickFlow retried it automatically; press Retry to run it once more"
ASK_ADMIN = "ask your KickFlow admin (the service log has the details)"
SERVICE_SIDE = _passing(
    "Something went wrong on the service, not with your file.",
    f"Press Retry; if it fails again the same way, {ASK_ADMIN}.",
)
NOT_A_JOB_ERROR = _passing(
    "A request to the service was refused.",
    f"Press Retry; if it happens again, {ASK_ADMIN}.",
)

STEPS: dict[str, NextStep] = {
    # The file itself.
    "bad_input": _file("KickFlow cannot analyse this file.", f"Open it in a player, {REDELIVER}."),
    "not_media": _file(
        "This file has no audio or video stream KickFlow can read.",
        "Check it is the right file and re-deliver it (not a document, archive or image).",
    ),
    "empty_file": _file("The file is empty (0 bytes).", f"The copy went wrong: {REDELIVER}."),
    "empty_upload": _file("The upload was empty (0 bytes).", f"The copy went wrong: {REDELIVER}."),
    "not_found": _file(
        "The file was not there when the job ran.",
        "It was moved or deleted after submission: put it back, or submit it again.",
    ),
    "not_a_file": _file(
        "The path is a folder or a device, not a file.",
        "Submit the media file itself, not the folder that holds it.",
    ),
    "unreadable": _file(
        "The file could not be read (permissions or a damaged disk).",
        "Check that KickFlow may read it, or copy it again and re-submit.",
    ),
    "playlist_refused": _file(
        "This is a playlist or a concat list, which would make KickFlow open other files.",
        "Submit the media file itself (export a single file from your editing system).",
    ),
    "format_refused": _file(
        "The file is not in a self-contained media container KickFlow accepts.",
        "Deliver it as MOV/MP4, MXF, Matroska, MPEG-TS, WAV … (see the message for what it is).",
    ),
    "resource_limit": _file(
        "The file is beyond what this service analyses (picture size, channels or duration).",
        "Check the message for the limit; deliver within it, or ask your admin to raise it.",
    ),
    "bad_timecode": _file(
        "The start timecode given for this file is not a valid timecode at its frame rate.",
        "Submit it again with HH:MM:SS:FF (HH:MM:SS;FF for drop-frame at 29.97 or 59.94 fps).",
    ),
    "url_invalid": _file(
        "The URL is not an http:// or https:// address of a media file.",
        "Submit the file's direct download link.",
    ),
    "url_refused": _file(
        "The URL points at an address KickFlow may not fetch from (an internal network).",
        "Use a public link, or ask an operator to allow the source (KICKFLOW_URL_ALLOW_HOSTS).",
    ),
    "url_unreachable": _passing(
        "The server behind the URL did not answer in time.",
        "Check that the link works in a browser, then press Retry.",
    ),
    "url_not_found": _file(
        "The URL gives no file: it may have been deleted or moved.",
        "Ask for a fresh link, then submit the job again.",
    ),
    "url_access_denied": _file(
        "The server refused access to the URL.",
        "The link may have expired or need signing in: ask for a fresh shareable link.",
    ),
    "url_failed": _passing(
        "Downloading from the URL failed.",
        "Press Retry; if it fails again, ask for a fresh link.",
    ),
    "url_not_media": _file(
        "The URL gives a web page, not a media file.",
        "Submit the file's direct download link, not the page that shows it.",
    ),
    "subtitle_refused": _file(
        "A subtitle file delivered with the media is not one KickFlow can read.",
        "Deliver it as SRT, WebVTT, TTML or ASS/SSA text (UTF-8), then submit the job again.",
    ),
    "file_too_large": _file(
        "The file is larger than this service accepts ({max_file}).",
        "Deliver a smaller file (a lighter codec or a shorter reel), or ask your admin to raise "
        "KICKFLOW_MAX_FILE_MB.",
    ),
    "upload_too_large": _file(
        "The upload is larger than this service accepts ({max_upload}).",
        "Deliver a smaller file, submit it as a path on shared storage, or ask your admin to "
        "raise KICKFLOW_MAX_UPLOAD_MB.",
    ),
    "checksum_mismatch": _passing(
        "The file was damaged on its way to the worker.",
        f"{RETRY_SOON}; if it keeps happening, upload the file again.",
    ),
    "memory_exceeded": _file(
        "Analysing this file needed more memory than the limit allows.",
        "Check the file is what you meant to deliver (an unusual codec or picture size?); "
        "your admin can raise KICKFLOW_FFMPEG_MAX_MEMORY_MB.",
    ),
    "ffmpeg_failed": _file(
        "FFmpeg could not decode the file.",
        f"The file is probably damaged or truncated: play it through to the end, {REDELIVER}.",
    ),
    "ffmpeg_error": _file(
        "FFmpeg could not decode the file.",
        f"The file is probably damaged: {REDELIVER}.",
    ),
    "ffmpeg_stalled": _passing(
        "The analysis stopped making progress and was stopped.",
        f"This is usually a busy or overloaded worker. {RETRY_SOON}; if it stalls again at the "
        "same point, the file may be damaged there.",
    ),
    "ffmpeg_timeout": _passing(
        "The analysis ran past the time limit and was stopped.",
        f"{RETRY_SOON} when the service is less busy; a very long programme may need your admin "
        "to raise KICKFLOW_FFMPEG_WALL_SECONDS.",
    ),
    "ffmpeg_missing": _passing(
        "The worker has no FFmpeg to analyse files with.",
        f"This is a service problem, not your file: {ASK_ADMIN}, then press Retry.",
    ),
    "aborted": _passing("The analysis was stopped on request.", "Press Retry to run it again."),
    "transcription_unavailable": _passing(
        "The profile requires a transcript, and the transcription provider could not make one.",
        f"Press Retry in a few minutes; if it fails again, {ASK_ADMIN} (the Operations page "
        "shows the provider's health as groq_api).",
    ),
    # Where the file comes from.
    "source_error": _file(
        "The file's source could not be read.",
        f"Check the source and submit again, or {ASK_ADMIN}.",
    ),
    "unsupported_source": _file(
        "This kind of source is not supported by this service.",
        "Upload the file instead, or submit it as a path.",
    ),
    "source_not_allowed": _file(
        "The path is outside the folders this service may read, so access was denied.",
        "Submit a path under the shared folders, or upload the file; your admin sets the "
        "folders (KICKFLOW_ALLOWED_ROOTS).",
    ),
    "symlink_refused": _file(
        "The path goes through a symbolic link, which KickFlow refuses.",
        "Submit the file's real path (without links), or upload it.",
    ),
    "stored_file_missing": _file(
        "The uploaded file is no longer in storage.", "Upload the file again."
    ),
    "storage_error": _passing(
        "The storage holding the file could not be reached.", f"{RETRY_SOON} in a few minutes."
    ),
    "bad_profile": _file(
        "The delivery profile the job uses is invalid.",
        "Fix the profile (Profiles page), then submit the file again.",
    ),
    "profile_not_found": _file(
        "The delivery profile the job names does not exist (any more).",
        "Submit the file again with one of the profiles on the Profiles page.",
    ),
    # The job system: workers, leases, the database.
    "lease_lost": _passing(
        "The worker running the job lost contact with the service.",
        f"{RETRY_SOON}; it usually succeeds on another worker.",
    ),
    "lease_expired": _passing(
        "The worker running the job stopped reporting (it crashed or lost its connection).",
        f"{RETRY_SOON}; if several jobs fail like this, {ASK_ADMIN}.",
    ),
    "no_progress": _passing(
        "The job stopped making progress and was taken back from its worker.",
        f"{RETRY_SOON}; if it stops at the same point again, the file may be damaged there.",
    ),
    "released": _passing(
        "Its worker shut down while running the job.", "Press Retry to run it again."
    ),
    "cancelled": _passing("The job was cancelled.", "Press Retry to run it after all."),
    "cancelled_stuck": _passing(
        "An operator cancelled the job because it was stuck.", "Press Retry to run it again."
    ),
    "paused": _passing("The job was paused.", "Press Retry to run it from the beginning."),
    "database_error": SERVICE_SIDE,
    "database_busy": SERVICE_SIDE,
    "database_not_migrated": SERVICE_SIDE,
    "service_unreachable": _passing(
        "The worker could not reach the service.", f"{RETRY_SOON} in a few minutes."
    ),
    "protocol_version": _passing(
        "A worker of another KickFlow release took the job.",
        f"Press Retry; if it happens again, {ASK_ADMIN} (the workers need upgrading).",
    ),
    "worker_refused": _passing(
        "The service refused the worker that took the job.",
        f"Press Retry; {ASK_ADMIN} (a worker's token or release is wrong).",
    ),
    "unsafe_configuration": SERVICE_SIDE,
    "bad_setting": SERVICE_SIDE,
    "internal_error": SERVICE_SIDE,
    "error": SERVICE_SIDE,
    "job_error": SERVICE_SIDE,
    "illegal_transition": SERVICE_SIDE,
    "service_error": SERVICE_SIDE,
}

# Google Drive jobs (kickflow.integrations.google): the runbook's wording for a lost grant.
RECONNECT = "Reconnect Google Drive in Settings, then press Retry"
STEPS |= {
    "google_access_denied": _passing(
        "Google Drive access denied: the connection expired or was revoked.", f"{RECONNECT}."
    ),
    "google_not_connected": _passing(
        "Google Drive is not connected for the account that submitted this job.",
        "Connect Google Drive in Settings, then press Retry.",
    ),
    "google_not_configured": _passing(
        "Google Drive is not set up on this service.",
        "Ask your KickFlow admin: an operator sets the Google client id and secret.",
    ),
    "google_unavailable": _passing(
        "Google could not be reached (or asked KickFlow to slow down).",
        f"{RETRY_SOON}.",
    ),
    "google_failed": _passing(
        "Google Drive refused a request for this file.",
        "Check the file still opens in Google Drive, then press Retry.",
    ),
    "drive_link_invalid": _file(
        "The link is not a Google Drive file or folder link.",
        "Copy the link from Drive's Share button (drive.google.com/…) and submit it again.",
    ),
    "drive_not_found": _file(
        "File not found in Google Drive: it may have been deleted or moved.",
        "Ask for a fresh link, or check the file is still in the shared folder.",
    ),
    "drive_no_access": _file(
        "The connected Google account has no access to this file.",
        "Ask the owner to share it with that account, then submit it again.",
    ),
    "drive_not_a_folder": _file(
        "The Drive link points at a file, not a folder.",
        "Submit the file's link as it is, or the link of the folder that holds it.",
    ),
    "drive_not_media": _file(
        "This is a Google document or a folder, not a media file.",
        "Submit the link of the video or audio file itself.",
    ),
    "drive_folder_empty": _file(
        "The Drive folder holds no media files.",
        "Check it is the right folder: videos and audio directly in it become jobs.",
    ),
    "drive_checksum": _passing(
        "The file downloaded from Google Drive did not match Drive's checksum.",
        f"{RETRY_SOON}.",
    ),
    "google_client_rejected": _passing(
        "Google refused this service's sign-in credentials.",
        "Ask your KickFlow admin: an operator checks the Google client id and secret.",
    ),
    "google_no_refresh_token": _passing(
        "Google gave KickFlow no lasting access to the Drive account.",
        "Remove KickFlow from the Google account's third-party access, connect Google Drive "
        "in Settings again, then press Retry.",
    ),
    "secret_unreadable": SERVICE_SIDE,
}

# Codes of refused requests (forms, tokens, sign-in): they are never a job's failure.
REQUEST_CODES = (
    "csrf_refused", "forbidden", "invalid_request", "invitation_invalid", "job_not_found",
    "job_running", "limit_reached", "organisation_exists", "organisation_not_found",
    "payload_too_large", "priority_not_allowed", "queue_limit_reached", "report_not_ready",
    "sign_in_throttled", "token_not_found", "too_many_files", "unauthorized", "unknown_action",
    "unsafe_file_name", "unsupported_media_type", "user_exists", "user_not_found",
    "wrong_credentials",
)  # fmt: skip
STEPS |= dict.fromkeys(REQUEST_CODES, NOT_A_JOB_ERROR)

# Refusals of a Google Sheets export (kickflow.integrations.google.sheets_export): an export
# is not a job, so these never are a job's failure.
SHEETS_CODES = (
    "sheets_export_off", "sheets_export_not_configured", "sheets_scope_missing", "sheets_refused",
    "spreadsheet_invalid", "spreadsheet_not_found", "spreadsheet_access_denied",
    "spreadsheet_tab_in_use",
)  # fmt: skip
STEPS |= dict.fromkeys(SHEETS_CODES, NOT_A_JOB_ERROR)

# Refusals outside a job's run: the Google connect flow, webhooks, PDF downloads, `kickflow
# check --pdf` and `kickflow watch` answer the person who asked, never fail a job.
OUTSIDE_A_JOB_CODES = (
    "google_connection_not_found", "google_sign_in_expired", "pdf_resource_refused",
    "pdf_unavailable", "report_not_writable", "watch_folder_not_allowed", "watch_folder_unusable",
    "watch_submission_refused", "watch_token_refused", "webhook_busy",
    "webhook_delivery_not_found", "webhook_events_invalid", "webhook_not_found",
    "webhook_signature_invalid",
)  # fmt: skip
STEPS |= dict.fromkeys(OUTSIDE_A_JOB_CODES, NOT_A_JOB_ERROR)

UNKNOWN = SERVICE_SIDE


def _limit(mb: int) -> str:
    return f"at most {mb} MB per file" if mb else "the configured maximum"


def next_step(code: str | None, settings: Settings) -> NextStep:
    """The plain-words advice for a job that failed with ``code``."""
    step = STEPS.get(code or "", UNKNOWN)
    limits = {
        "max_file": _limit(settings.max_file_mb),
        "max_upload": _limit(settings.max_upload_mb),
    }
    return NextStep(step.what.format(**limits), step.advice.format(**limits), step.retry_helps)
