"""parse_drive_link: the link shapes people paste from Drive and Docs are understood; anything
that only looks like Drive (other hosts, http, userinfo and port tricks, bare ids) is refused
with the one sentence of DriveLinkInvalid."""

from __future__ import annotations

import pytest

from kickflow.errors import DriveLinkInvalid
from kickflow.integrations.google.drive import parse_drive_link
from kickflow.integrations.google.types import DriveLink

FILE_ID = "1AbCdEfGhIjKlMnOpQrStUvWxYz012345"
FOLDER_ID = "1ZyXwVuTsRqPoNmLkJiHgFeDcBa_-9876"
OLD_ID = "0B7abcDEFghiJKLmnoPQRstu"  # the older 0B… ids, which need a resource key


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        (f"https://drive.google.com/file/d/{FILE_ID}/view", DriveLink("file", FILE_ID)),
        (f"https://drive.google.com/file/d/{FILE_ID}/view?usp=sharing", DriveLink("file", FILE_ID)),
        (
            f"https://drive.google.com/file/d/{FILE_ID}/view?usp=drive_link",
            DriveLink("file", FILE_ID),
        ),
        (f"https://drive.google.com/file/d/{FILE_ID}", DriveLink("file", FILE_ID)),
        (f"https://drive.google.com/file/d/{FILE_ID}/", DriveLink("file", FILE_ID)),
        (f"https://drive.google.com/file/d/{FILE_ID}/edit", DriveLink("file", FILE_ID)),
        (f"https://drive.google.com/file/d/{FILE_ID}/preview", DriveLink("file", FILE_ID)),
        (f"https://drive.google.com/file/u/0/d/{FILE_ID}/view", DriveLink("file", FILE_ID)),
        (f"https://drive.google.com/file/u/2/d/{FILE_ID}/view", DriveLink("file", FILE_ID)),
        (f"https://drive.google.com/open?id={FILE_ID}", DriveLink("file", FILE_ID)),
        (f"https://drive.google.com/uc?id={FILE_ID}", DriveLink("file", FILE_ID)),
        (f"https://drive.google.com/uc?export=download&id={FILE_ID}", DriveLink("file", FILE_ID)),
        (f"https://drive.google.com/drive/folders/{FOLDER_ID}", DriveLink("folder", FOLDER_ID)),
        (f"https://drive.google.com/drive/folders/{FOLDER_ID}/", DriveLink("folder", FOLDER_ID)),
        (
            f"https://drive.google.com/drive/folders/{FOLDER_ID}?usp=sharing",
            DriveLink("folder", FOLDER_ID),
        ),
        (f"https://drive.google.com/drive/u/0/folders/{FOLDER_ID}", DriveLink("folder", FOLDER_ID)),
        (f"https://drive.google.com/drive/u/3/folders/{FOLDER_ID}", DriveLink("folder", FOLDER_ID)),
        (
            f"https://drive.google.com/drive/mobile/folders/{FOLDER_ID}",
            DriveLink("folder", FOLDER_ID),
        ),
        (f"https://drive.google.com/folderview?id={FOLDER_ID}", DriveLink("folder", FOLDER_ID)),
        (f"https://docs.google.com/document/d/{FILE_ID}/edit", DriveLink("file", FILE_ID)),
        (
            f"https://docs.google.com/spreadsheets/d/{FILE_ID}/edit#gid=0",
            DriveLink("file", FILE_ID),
        ),
        (f"https://docs.google.com/presentation/d/{FILE_ID}/view", DriveLink("file", FILE_ID)),
        (f"https://docs.google.com/document/u/1/d/{FILE_ID}/edit", DriveLink("file", FILE_ID)),
        (f"https://docs.google.com/file/d/{FILE_ID}/edit", DriveLink("file", FILE_ID)),
        (f"https://docs.google.com/uc?id={FILE_ID}&export=download", DriveLink("file", FILE_ID)),
        (
            f"https://drive.google.com/file/d/{OLD_ID}/view?resourcekey=0-AbC_dEf-123",
            DriveLink("file", OLD_ID, "0-AbC_dEf-123"),
        ),
        (
            f"https://drive.google.com/drive/folders/{OLD_ID}?resourcekey=0-xyz&usp=sharing",
            DriveLink("folder", OLD_ID, "0-xyz"),
        ),
        (f"https://drive.google.com/open?id={OLD_ID}&resourcekey=", DriveLink("file", OLD_ID)),
        (f"  https://drive.google.com/file/d/{FILE_ID}/view  \n", DriveLink("file", FILE_ID)),
        (f"HTTPS://DRIVE.GOOGLE.COM/file/d/{FILE_ID}/view", DriveLink("file", FILE_ID)),
        (f"https://drive.google.com/file/d/{FILE_ID}/view#heading", DriveLink("file", FILE_ID)),
    ],
)
def test_real_link_shapes_are_understood(link: str, expected: DriveLink) -> None:
    assert parse_drive_link(link) == expected


@pytest.mark.parametrize(
    "link",
    [
        # not a link at all
        "",
        "   ",
        FILE_ID,
        f"drive.google.com/file/d/{FILE_ID}/view",
        f"//drive.google.com/file/d/{FILE_ID}/view",
        "not a link",
        # other schemes
        f"http://drive.google.com/file/d/{FILE_ID}/view",
        f"ftp://drive.google.com/file/d/{FILE_ID}/view",
        f"file://drive.google.com/file/d/{FILE_ID}/view",
        f"javascript://drive.google.com/file/d/{FILE_ID}",
        # other hosts, look-alikes and suffix tricks
        f"https://example.com/file/d/{FILE_ID}/view",
        f"https://drive.google.com.example.com/file/d/{FILE_ID}/view",
        f"https://drive-google.example.org/file/d/{FILE_ID}/view",
        f"https://evil.drive.google.com.example.org/file/d/{FILE_ID}/view",
        f"https://example.org/?u=https://drive.google.com/file/d/{FILE_ID}/view",
        f"https://drive.google.com./file/d/{FILE_ID}/view",
        f"https://google.com/file/d/{FILE_ID}/view",
        f"https://www.google.com/url?q=https://drive.google.com/file/d/{FILE_ID}/view",
        f"https://sheets.googleapis.com/file/d/{FILE_ID}/view",
        f"https://drive.googl.com/file/d/{FILE_ID}/view",
        # userinfo and port tricks
        f"https://drive.google.com@example.com/file/d/{FILE_ID}/view",
        f"https://drive.google.com:443@example.com/file/d/{FILE_ID}/view",
        f"https://user:pass@drive.google.com/file/d/{FILE_ID}/view",
        f"https://drive.google.com%40example.com/file/d/{FILE_ID}/view",
        f"https://drive.google.com:8443/file/d/{FILE_ID}/view",
        f"https://drive.google.com:443/file/d/{FILE_ID}/view",
        f"https://drive.google.com:/file/d/{FILE_ID}/view",
        f"https://drive.google.com:99999/file/d/{FILE_ID}/view",
        f"https://example.com\\@drive.google.com/file/d/{FILE_ID}/view",
        f"https://example.com#@drive.google.com/file/d/{FILE_ID}/view",
        f"https://example.com?@drive.google.com/file/d/{FILE_ID}/view",
        # whitespace and control characters inside
        f"https://drive.google.com/file/d/{FILE_ID[:10]} {FILE_ID[10:]}/view",
        f"https://drive.google.com/file/d/{FILE_ID}\x00/view",
        f"https://drive.google.com\t/file/d/{FILE_ID}/view",
        f"https://drive.google.com/file/d/{FILE_ID}\r\nX-Injected: 1",
        # Drive pages that name no file or folder
        "https://drive.google.com/",
        "https://drive.google.com/drive/my-drive",
        "https://drive.google.com/drive/u/0/shared-with-me",
        "https://drive.google.com/open",
        "https://drive.google.com/open?id=",
        f"https://drive.google.com/open?id={FILE_ID}&id={FOLDER_ID}",
        "https://drive.google.com/file/d//view",
        "https://drive.google.com/drive/folders/",
        f"https://drive.google.com/drive/file/d/{FILE_ID}",
        f"https://drive.google.com/file/x/{FILE_ID}/view",
        # ids that are not ids (traversal, injection into the Drive query, too short/long)
        "https://drive.google.com/file/d/../../about/view",
        "https://drive.google.com/file/d/%2e%2e%2fabout/view",
        "https://drive.google.com/open?id=abc'%20or%20'1'='1",
        f"https://drive.google.com/drive/folders/{FOLDER_ID}'+in+parents",
        "https://drive.google.com/file/d/short/view",
        f"https://drive.google.com/file/d/{'a' * 129}/view",
        f"https://drive.google.com/open?id={FILE_ID}%00",
        # a bad resource key
        f"https://drive.google.com/file/d/{FILE_ID}/view?resourcekey=a/b",
        f"https://drive.google.com/file/d/{FILE_ID}/view?resourcekey=1&resourcekey=2",
        # absurdly long
        f"https://drive.google.com/file/d/{FILE_ID}/view?x={'a' * 5000}",
    ],
)
def test_anything_else_is_refused_in_one_sentence(link: str) -> None:
    with pytest.raises(DriveLinkInvalid) as caught:
        parse_drive_link(link)
    assert caught.value.message == (
        "This is not a Google Drive link: give the link of a Drive file or folder."
    )
