"""What can go wrong with a URL the service was asked to fetch.

They build on the source errors of :mod:`kickflow.errors` (so the API answers 400 and a job
fails with the sentence); ``permanent`` is False only where trying again later can help.
Every message names the URL as the caller gave it (see :func:`kickflow.net.policy.shown_url`),
never an address it resolved to.
"""

from __future__ import annotations

from kickflow.errors import InputNotFound, NotMedia, SourceError, SourceNotAllowed


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
