"""Every exception the product raises on purpose.

The docstring of each class is its default user-facing message. ``permanent`` tells the job
system whether retrying can help.
"""

from __future__ import annotations

import math


class KickflowError(Exception):
    """Something went wrong."""

    code = "error"
    permanent = True

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or " ".join((self.__doc__ or self.code).split()))

    @property
    def message(self) -> str:
        return str(self)


# --- input ----------------------------------------------------------------------------------


class InputError(KickflowError):
    """The input cannot be analysed."""

    code = "bad_input"


class InputNotFound(InputError):
    """The input file does not exist."""

    code = "not_found"


class InputNotAFile(InputError):
    """The input is not a regular file."""

    code = "not_a_file"


class InputEmpty(InputError):
    """The input file is empty (0 bytes)."""

    code = "empty_file"


class InputUnreadable(InputError):
    """The input file cannot be read."""

    code = "unreadable"


class NotMedia(InputError):
    """Not a media file: no audio or video stream."""

    code = "not_media"


class PlaylistRefused(InputError):
    """Playlists and concat lists are refused: submit the media file itself."""

    code = "playlist_refused"


class FileTooLarge(InputError):
    """The file is larger than the configured maximum."""

    code = "file_too_large"


class FormatRefused(InputError):
    """Refused: the file's format is not on the list of self-contained media containers."""

    code = "format_refused"


class ResourceLimitExceeded(InputError):
    """Refused: the file is beyond the resource limits (picture size, channels, duration …)."""

    code = "resource_limit"


class TimecodeInvalid(InputError):
    """The timecode is not valid: write HH:MM:SS:FF, or HH:MM:SS;FF for drop-frame."""

    code = "bad_timecode"


class SubtitleRefused(InputError):
    """The subtitle file is refused: send SRT, WebVTT, TTML or ASS/SSA text."""

    code = "subtitle_refused"


# --- ffmpeg ---------------------------------------------------------------------------------


class FfmpegError(KickflowError):
    """FFmpeg failed."""

    code = "ffmpeg_error"


class FfmpegMissing(FfmpegError):
    """FFmpeg was not found: install the package again or set KICKFLOW_FFMPEG."""

    code = "ffmpeg_missing"


class FfmpegStalled(FfmpegError):
    """FFmpeg made no progress and was killed."""

    code = "ffmpeg_stalled"
    permanent = False


class FfmpegTimedOut(FfmpegError):
    """FFmpeg ran past the wall-clock limit and was killed."""

    code = "ffmpeg_timeout"
    permanent = False


class FfmpegMemoryExceeded(FfmpegError):
    """FFmpeg ran out of its memory limit."""

    code = "memory_exceeded"


class FfmpegFailed(FfmpegError):
    """FFmpeg exited with an error."""

    code = "ffmpeg_failed"

    def __init__(self, returncode: int, stderr_tail: str, message: str | None = None) -> None:
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        last = stderr_tail.strip().splitlines()[-1] if stderr_tail.strip() else "no message"
        super().__init__(message or f"FFmpeg exited with code {returncode}: {last}")


class AnalysisAborted(KickflowError):
    """The analysis was stopped on request."""

    code = "aborted"
    permanent = False


# --- speech: the transcription provider -----------------------------------------------------


class TranscriptionUnavailable(KickflowError):
    """transcription unavailable: the provider could not be reached."""

    code = "transcription_unavailable"
    permanent = False


# --- profiles -------------------------------------------------------------------------------


class ProfileError(KickflowError):
    """The delivery-spec profile is invalid."""

    code = "bad_profile"


class ProfileNotFound(ProfileError):
    """No such profile."""

    code = "profile_not_found"


# --- jobs, queue and workers ----------------------------------------------------------------


class JobError(KickflowError):
    """The job operation failed."""

    code = "job_error"


class JobNotFound(JobError):
    """No such job."""

    code = "job_not_found"


class IllegalTransition(JobError):
    """The job cannot make that state change."""

    code = "illegal_transition"

    def __init__(self, action: str, state: str, message: str | None = None) -> None:
        self.action = action
        self.state = state
        super().__init__(message or f"cannot {action.replace('_', ' ')} a job that is {state}")


class LeaseLost(JobError):
    """The worker lost its lease on the job: another worker or the reaper took it over."""

    code = "lease_lost"
    permanent = False


class JobCancelRequested(JobError):
    """The job was cancelled on request."""

    code = "cancelled"


class JobPauseRequested(JobError):
    """The job was paused on request; it will start again from the beginning when resumed."""

    code = "paused"
    permanent = False


class JobReleased(JobError):
    """The worker is shutting down and handed the job back to the queue."""

    code = "released"
    permanent = False


class DatabaseError(JobError):
    """The job database is not reachable or refused the operation."""

    code = "database_error"
    permanent = False


class DatabaseBusy(DatabaseError):
    """The job database is busy: another process holds its write lock; try again shortly."""

    code = "database_busy"


class DatabaseNotMigrated(DatabaseError):
    """The job database is not migrated: run `kickflow db upgrade` first."""

    code = "database_not_migrated"
    permanent = True


class SourceError(InputError):
    """The job's source cannot be read."""

    code = "source_error"


class UnsupportedSource(SourceError):
    """This source type is not supported."""

    code = "unsupported_source"


class SourceNotAllowed(SourceError):
    """The path is outside the allowed roots (KICKFLOW_ALLOWED_ROOTS)."""

    code = "source_not_allowed"


class SymlinkRefused(SourceNotAllowed):
    """Refused: the path goes through a symbolic link; submit the file's real path."""

    code = "symlink_refused"


class SettingsInvalid(KickflowError):
    """A ``KICKFLOW_*`` setting has a value that is not valid."""

    code = "bad_setting"


class UnsafeConfiguration(KickflowError):
    """The settings are unsafe; the service does not start with them."""

    code = "unsafe_configuration"


# --- service: API, auth, uploads ------------------------------------------------------------


class ServiceError(KickflowError):
    """The request cannot be served."""

    code = "service_error"


class RequestInvalid(ServiceError):
    """The request is invalid."""

    code = "invalid_request"


class UnsupportedMediaType(RequestInvalid):
    """Unsupported Content-Type: send application/json or multipart/form-data."""

    code = "unsupported_media_type"


class PayloadTooLarge(RequestInvalid):
    """The request body is too large."""

    code = "payload_too_large"


class UploadTooLarge(PayloadTooLarge):
    """The upload is larger than KICKFLOW_MAX_UPLOAD_MB."""

    code = "upload_too_large"


class UploadEmpty(RequestInvalid):
    """The upload is empty (0 bytes): send the media file itself."""

    code = "empty_upload"


class UploadNotMedia(UnsupportedMediaType):
    """The file is not media: send a video or audio file in a media container."""

    code = "not_media"


class TooManyFiles(RequestInvalid):
    """Too many files in one upload request (KICKFLOW_MAX_FILES_PER_UPLOAD)."""

    code = "too_many_files"


class PriorityNotAllowed(RequestInvalid):
    """priority: outside the range your role may set."""

    code = "priority_not_allowed"


class LimitReached(ServiceError):
    """A limit of your organisation is reached; try again later."""

    code = "limit_reached"


class QueueLimitReached(LimitReached):
    """Your organisation has too many queued jobs (KICKFLOW_ORG_MAX_QUEUED); wait for some to
    finish."""

    code = "queue_limit_reached"


class UnsafeFileName(RequestInvalid):
    """The file name is refused: send a plain file name without directories."""

    code = "unsafe_file_name"


class UnknownAction(RequestInvalid):
    """Unknown action."""

    code = "unknown_action"


class NotAuthenticated(ServiceError):
    """Missing or invalid token: send `Authorization: Bearer <token>`."""

    code = "unauthorized"


class PermissionDenied(ServiceError):
    """Your token's role does not allow this."""

    code = "forbidden"


class NotFound(ServiceError):
    """Not found."""

    code = "not_found"


class ReportNotReady(ServiceError):
    """The job has no report yet."""

    code = "report_not_ready"


class JobIsRunning(ServiceError):
    """The job is running: cancel it first or wait until it ends."""

    code = "job_running"


class OrganisationNotFound(ServiceError):
    """No such organisation: create it with `kickflow admin create-org NAME`."""

    code = "organisation_not_found"


class OrganisationExists(ServiceError):
    """An organisation with that name already exists."""

    code = "organisation_exists"


class TokenNotFound(ServiceError):
    """No such API token."""

    code = "token_not_found"


# --- people: dashboard users, sessions and invitations ---------------------------------------


class UserExists(ServiceError):
    """A user with that email address already exists."""

    code = "user_exists"


class UserNotFound(ServiceError):
    """No such user."""

    code = "user_not_found"


class InvitationInvalid(ServiceError):
    """This invitation link has expired or was already used; ask your admin for a new one."""

    code = "invitation_invalid"


class SignInThrottled(LimitReached):
    """Too many failed sign-ins; wait a little and try again."""

    code = "sign_in_throttled"

    def __init__(self, retry_after_seconds: float, message: str | None = None) -> None:
        # Whole seconds, at least 1: what a Retry-After header and a sentence can say.
        self.retry_after = max(1, math.ceil(retry_after_seconds))
        super().__init__(
            message or f"Too many failed sign-ins: try again in {_seconds(self.retry_after)}."
        )


def _seconds(n: int) -> str:
    return "1 second" if n == 1 else f"{n} seconds"


# --- the dashboard: sign-in and forms -----------------------------------------------------------


class WrongCredentials(NotAuthenticated):
    """Wrong email or password."""

    code = "wrong_credentials"


class CsrfRefused(PermissionDenied):
    """This form has expired or came from another site: reload the page and try again."""

    code = "csrf_refused"


# --- storage and the worker protocol --------------------------------------------------------


class StorageError(KickflowError):
    """The upload storage is not reachable or refused the operation."""

    code = "storage_error"
    permanent = False


class StoredObjectMissing(StorageError):
    """The stored file is missing from the upload storage."""

    code = "stored_file_missing"
    permanent = True


class ServiceUnreachable(KickflowError):
    """The KickFlow service cannot be reached; the worker retries."""

    code = "service_unreachable"
    permanent = False


class ChecksumMismatch(KickflowError):
    """The downloaded file does not match its checksum; the download is retried."""

    code = "checksum_mismatch"
    permanent = False


class ProtocolMismatch(ServiceError):
    """The worker speaks a protocol version this service does not."""

    code = "protocol_version"


# --- URL sources (kickflow.net): messages name the URL as given, never a resolved address ---


class UrlInvalid(SourceError):
    """The URL is not valid: give an http:// or https:// address of the media file."""

    code = "url_invalid"


class UrlRefused(SourceNotAllowed):
    """The URL is refused: it points at an address the service does not fetch from."""

    code = "url_refused"


class UrlUnreachable(SourceError):
    """The URL cannot be reached right now; the job is retried."""

    code = "url_unreachable"
    permanent = False


class UrlNotFound(InputNotFound):
    """Nothing at this URL: it may have been deleted or moved."""

    code = "url_not_found"


class UrlAccessDenied(SourceError):
    """The server refused access to this URL: check the link is shared or still valid."""

    code = "url_access_denied"


class UrlFailed(SourceError):
    """The server answered the URL with an error."""

    code = "url_failed"


class UrlNotMedia(NotMedia):
    """The URL gives a web page, not a media file."""

    code = "url_not_media"


# --- Google (Drive, Sheets, OAuth) ----------------------------------------------------------


class GoogleError(SourceError):
    """Google answered with an error."""

    code = "google_failed"


class GoogleNotConfigured(GoogleError):
    """Google Drive is not set up on this service: an operator must set
    KICKFLOW_GOOGLE_CLIENT_ID and KICKFLOW_GOOGLE_CLIENT_SECRET."""

    code = "google_not_configured"


class GoogleNotConnected(GoogleError):
    """Google Drive is not connected: connect Google Drive in Settings first."""

    code = "google_not_connected"


class GoogleAccessDenied(GoogleError):
    """Google Drive access denied — reconnect Google Drive in Settings."""

    code = "google_access_denied"


class GoogleUnavailable(GoogleError):
    """Google cannot be reached right now; the job is retried."""

    code = "google_unavailable"
    permanent = False


class DriveLinkInvalid(GoogleError):
    """This is not a Google Drive link: give the link of a Drive file or folder."""

    code = "drive_link_invalid"


class DriveFileNotFound(InputNotFound):
    """File not found: it may have been deleted or moved."""

    code = "drive_not_found"


class DriveNotMedia(NotMedia):
    """This is a Google document, not a media file: only uploaded files can be checked."""

    code = "drive_not_media"


class DriveFolderEmpty(GoogleError):
    """The Drive folder holds no media files."""

    code = "drive_folder_empty"


class DriveChecksumMismatch(GoogleError):
    """The downloaded file does not match Google Drive's checksum; the job is retried."""

    code = "drive_checksum"
    permanent = False


# --- secrets --------------------------------------------------------------------------------


class SecretUnreadable(KickflowError):
    """A stored secret cannot be decrypted with any key in KICKFLOW_SECRET_KEY: put the key it
    was written with back in the list."""

    code = "secret_unreadable"


# --- Google clients (kickflow.integrations.google.oauth / drive) -----------------------------


class GoogleClientRejected(GoogleError):
    """Google refused this service's OAuth client: an operator must check
    KICKFLOW_GOOGLE_CLIENT_ID and KICKFLOW_GOOGLE_CLIENT_SECRET."""

    code = "google_client_rejected"


class DriveNoAccess(GoogleError):
    """The connected Google account has no access to this Drive file: ask its owner to share
    it with that account."""

    code = "drive_no_access"


class DriveNotAFolder(GoogleError):
    """This Drive link is not a folder: give the link of a Drive folder."""

    code = "drive_not_a_folder"


# --- Google Drive connection (Settings) ------------------------------------------------------


class GoogleSignInExpired(RequestInvalid):
    """This Google sign-in link has expired or was not started here: connect again from
    Settings."""

    code = "google_sign_in_expired"


class GoogleConnectionNotFound(NotFound):
    """There is no Google Drive connection to remove."""

    code = "google_connection_not_found"


# --- PDF reports ------------------------------------------------------------------------------


class PdfUnavailable(KickflowError):
    """PDF reports cannot be made on this machine: WeasyPrint or its system libraries (Pango)
    are missing (apt-get install libpango-1.0-0 libpangoft2-1.0-0); the HTML report works."""

    code = "pdf_unavailable"


class PdfResourceRefused(KickflowError):
    """A PDF report may only show the job's own pictures; nothing else is fetched."""

    code = "pdf_resource_refused"


class ReportNotWritable(KickflowError):
    """The report file cannot be written there: choose an existing, writable directory."""

    code = "report_not_writable"


# --- Google Sheets export ------------------------------------------------------------------


class SheetsExportOff(GoogleError):
    """Google Sheets export is off on this service: an operator must set
    KICKFLOW_GOOGLE_SHEETS_EXPORT=true (people then reconnect Google Drive in Settings)."""

    code = "sheets_export_off"


class SheetsExportNotConfigured(NotFound):
    """This project has no Google Sheets export: an admin sets one up for the project first
    (its spreadsheet, vendor and series title)."""

    code = "sheets_export_not_configured"


class SheetsScopeMissing(GoogleError):
    """This Google connection was made without access to Google Sheets: reconnect Google Drive
    in Settings and allow Sheets."""

    code = "sheets_scope_missing"


class SpreadsheetIdInvalid(RequestInvalid):
    """This is not a Google Sheets link: give the link of the spreadsheet (or its id)."""

    code = "spreadsheet_invalid"


class SpreadsheetNotFound(GoogleError):
    """Spreadsheet not found: it may have been deleted, or the connected Google account cannot
    see it."""

    code = "spreadsheet_not_found"


class SpreadsheetAccessDenied(GoogleError):
    """The connected Google account may not edit this spreadsheet: share it with that account
    as an editor."""

    code = "spreadsheet_access_denied"


class SpreadsheetTabInUse(GoogleError):
    """The spreadsheet already has a tab of this project's name holding other data: rename that
    tab or choose another spreadsheet."""

    code = "spreadsheet_tab_in_use"


class SheetsRequestRefused(GoogleError):
    """Google Sheets refused the request."""

    code = "sheets_refused"


# --- webhooks ------------------------------------------------------------------------------


class WebhookNotFound(NotFound):
    """No such webhook endpoint in your organisation."""

    code = "webhook_not_found"


class WebhookDeliveryNotFound(NotFound):
    """No such webhook delivery in your organisation."""

    code = "webhook_delivery_not_found"


class WebhookEventsInvalid(RequestInvalid):
    """events: choose one or more of job.completed, job.failed and job.needs_review."""

    code = "webhook_events_invalid"


class WebhookBusy(RequestInvalid):
    """A send to this webhook endpoint is in progress: try again in a moment."""

    code = "webhook_busy"


class WebhookSignatureInvalid(RequestInvalid):
    """The webhook signature is not valid: refuse the delivery."""

    code = "webhook_signature_invalid"


# --- watch folders (kickflow.watch) ---------------------------------------------------------


class WatchFolderUnusable(InputError):
    """The watch folder cannot be used: give an existing directory this user can read and
    write."""

    code = "watch_folder_unusable"


class WatchFolderNotAllowed(SourceNotAllowed):
    """The watch folder is outside KICKFLOW_ALLOWED_ROOTS, so workers may not read its files:
    add it there, or give --server and --token to upload them to the service."""

    code = "watch_folder_not_allowed"


class WatchSubmissionRefused(InputError):
    """The service refused the file."""

    code = "watch_submission_refused"


class WatchTokenRefused(KickflowError):
    """The service refused the token: give a valid API token with the member role
    (--token / KICKFLOW_TOKEN)."""

    code = "watch_token_refused"


# --- Google connections (kickflow.integrations.google.tokens) --------------------------------


class GoogleNoRefreshToken(GoogleError):
    """Google gave no lasting access: remove KickFlow from your Google account's third-party
    access, then connect Google Drive again."""

    code = "google_no_refresh_token"
