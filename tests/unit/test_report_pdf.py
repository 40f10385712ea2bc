"""The PDF report: rendered by WeasyPrint from a stored report dict and read back with pypdf;
its only URL fetcher serves the job's listed artefacts and nothing else."""

from __future__ import annotations

import io
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pypdf
import pytest
from PIL import Image

from kickflow.errors import PdfResourceRefused, ReportNotWritable
from kickflow.report_pdf import (
    MAX_FINDINGS,
    ArtifactFetcher,
    check_target,
    content_disposition,
    pdf_file_name,
    pdf_from_html,
    render_pdf,
    write_pdf,
)
from tests.fakes.web import web_rig
from tests.unit.test_report_render import EVIL, report_dict
from tests.web_helpers import signed_in

THUMB = "a1-abcdef-thumb-00.jpg"
HOSTILE = '<img src="file:///etc/passwd"> x'


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 36), (200, 40, 40)).save(out, "JPEG")
    return out.getvalue()


def with_thumbnail(report: dict[str, Any]) -> dict[str, Any]:
    """The report as a worker leaves it: the black finding names its stored picture."""
    for f in report["findings"]:
        if f["check"] == "video.black":
            f["thumbnail"] = THUMB
    report["artifacts"] = [{"name": THUMB, "kind": "thumbnail", "content_type": "image/jpeg"}]
    return report


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def images_in(pdf: bytes) -> int:
    """The distinct image XObjects (WeasyPrint shares one resource dict between pages)."""
    pages = pypdf.PdfReader(io.BytesIO(pdf)).pages
    return len({(image.name, image.image.size) for page in pages for image in page.images})


@pytest.fixture(scope="module")
def picture() -> bytes:
    return jpeg()


@pytest.fixture(scope="module")
def rendered(picture: bytes) -> tuple[bytes, list[str]]:
    """One PDF (rendered once for the module) of a report with a thumbnail, a hostile file
    name and a hostile message; and the names it read."""
    asked: list[str] = []
    report = with_thumbnail(report_dict(EVIL))
    report["findings"][0]["message"] = HOSTILE

    def read(name: str) -> bytes:
        asked.append(name)
        return picture

    return render_pdf(report, read), asked


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback port nobody should connect to while a PDF is rendered."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        sock.setblocking(False)
        yield sock


def connections(sock: socket.socket) -> int:
    count = 0
    while True:
        try:
            conn, _ = sock.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


# --- what the PDF shows -----------------------------------------------------------------------


def test_the_pdf_has_the_verdict_file_findings_and_page_numbers(
    rendered: tuple[bytes, list[str]],
) -> None:
    pdf, _ = rendered
    assert pdf.startswith(b"%PDF-")
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 1
    first = reader.pages[0].extract_text()
    assert "FAILED" in first and EVIL in first
    assert "Page 1 of" in first
    text = text_of(pdf)
    assert f"Page {len(reader.pages)} of {len(reader.pages)}" in text
    assert "video.black" in text and "00:00:10:00" in text
    assert "Black picture for 2.0 s from 10.00 s" in text
    assert "audio.true_peak" in text and "-23.0 LUFS" in text
    page = reader.pages[0].mediabox
    assert (round(float(page.width)), round(float(page.height))) == (595, 842), "A4 in points"


def test_a_listed_thumbnail_is_embedded_as_an_image(rendered: tuple[bytes, list[str]]) -> None:
    pdf, asked = rendered
    assert asked == [THUMB]
    assert images_in(pdf) == 1
    (image,) = {
        i.image.size for page in pypdf.PdfReader(io.BytesIO(pdf)).pages for i in page.images
    }
    assert image == (64, 36)


def test_without_a_reader_the_pdf_has_no_pictures_and_fetches_nothing() -> None:
    pdf = render_pdf(with_thumbnail(report_dict()))
    assert images_in(pdf) == 0
    assert "video.black" in text_of(pdf)


def test_a_thumbnail_the_report_does_not_list_is_not_read(picture: bytes) -> None:
    report = with_thumbnail(report_dict())
    report["artifacts"] = []
    asked: list[str] = []
    pdf = render_pdf(report, lambda name: asked.append(name) or picture)
    assert asked == [] and images_in(pdf) == 0


def test_hostile_text_is_shown_as_text(rendered: tuple[bytes, list[str]]) -> None:
    text = text_of(rendered[0])
    assert EVIL in text and HOSTILE in text


def test_thousands_of_findings_render_in_bounded_time_with_the_rest_counted() -> None:
    report = report_dict()
    one = report["findings"][1]
    report["findings"] = [dict(one, message=f"finding number {i}") for i in range(4999)]
    report["findings"].append(dict(one, severity="error", message="the one error"))
    started = time.process_time()  # CPU time: what the render costs, not how busy the host is
    pdf = render_pdf(report)
    assert time.process_time() - started < 20  # some 5 s on one laptop core
    text = text_of(pdf)
    assert "the one error" in text, "past the cap, the most severe come first"
    assert f"finding number {MAX_FINDINGS - 2}" in text
    assert f"finding number {MAX_FINDINGS - 1}" not in text
    assert f"{5000 - MAX_FINDINGS} more findings are not shown here" in text
    assert "Findings (5000)" in text
    assert len(pypdf.PdfReader(io.BytesIO(pdf)).pages) < 40


# --- the fetcher ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "file://localhost/etc/hostname",
        "data:image/png;base64,iVBORw0KGgo=",
        "artifact:a1-abcdef-thumb-01.jpg",  # well-formed, not listed
        "artifact:../../uploads/secret",
        "ARTIFACT:" + THUMB,
        "/etc/passwd",
    ],
)
def test_the_fetcher_refuses_everything_but_listed_artefacts(url: str) -> None:
    asked: list[str] = []
    fetcher = ArtifactFetcher([THUMB], lambda name: asked.append(name) or b"")
    with pytest.raises(PdfResourceRefused):
        fetcher(url)
    assert asked == []


def test_the_fetcher_never_connects(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    fetcher = ArtifactFetcher([THUMB], lambda name: b"")
    for url in (f"http://127.0.0.1:{port}/x.png", f"https://127.0.0.1:{port}/", "ftp://[::1]/"):
        with pytest.raises(PdfResourceRefused):
            fetcher(url)
    assert connections(listener) == 0


def test_the_fetcher_serves_a_listed_artefact_as_jpeg() -> None:
    fetcher = ArtifactFetcher([THUMB], lambda name: b"bytes of " + name.encode())
    assert fetcher("artifact:" + THUMB) == {
        "string": b"bytes of " + THUMB.encode(),
        "mime_type": "image/jpeg",
    }
    with pytest.raises(PdfResourceRefused):
        ArtifactFetcher([THUMB], None)("artifact:" + THUMB)


def test_a_page_naming_files_and_urls_renders_without_reaching_them(
    listener: socket.socket, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.png"
    Image.new("RGB", (8, 8)).save(secret)
    port = listener.getsockname()[1]
    page = (
        f'<html><head><link rel="stylesheet" href="http://127.0.0.1:{port}/s.css">'
        f"<style>@import url(http://127.0.0.1:{port}/i.css);"
        f"body{{background:url(file://{secret})}}</style></head><body><p>hello</p>"
        f'<img src="file://{secret}"><img src="{secret}"><img src="http://127.0.0.1:{port}/a.png">'
        f'<svg xmlns="http://www.w3.org/2000/svg"><image href="file://{secret}"/></svg>'
        "</body></html>"
    )
    refused: list[str] = []
    fetcher = ArtifactFetcher([], None)

    def recording(url: str) -> dict[str, Any]:
        refused.append(url)
        return fetcher(url)

    pdf = pdf_from_html(page, recording)
    assert "hello" in text_of(pdf)
    assert images_in(pdf) == 0
    assert connections(listener) == 0
    assert any(u.startswith("file:") for u in refused) and any("127.0.0.1" in u for u in refused)


# --- file names and the CLI's file --------------------------------------------------------------


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("EP01.mov", "EP01-qc.pdf"),
        ("EP01 final (v2).en.mxf", "EP01_final_v2_.en-qc.pdf"),
        ("Épisode 1.mxf", "Episode_1-qc.pdf"),
        ('../../etc/"passwd"\r\n.mov', "etc_passwd-qc.pdf"),
        ("日本語.mp4", "job-1-qc.pdf"),
        (".hidden", "hidden-qc.pdf"),
        ("", "job-1-qc.pdf"),
        ("x" * 300 + ".mov", "x" * 80 + "-qc.pdf"),
    ],
)
def test_the_file_name_is_the_stem_made_safe(original: str, expected: str) -> None:
    assert pdf_file_name(original, "job-1") == expected


def test_the_disposition_is_one_header_line_with_both_names() -> None:
    header = content_disposition('Épisode "1"\r\nX-Evil: 1.mov', "job-1")
    assert header.startswith('attachment; filename="Episode_1_X-Evil_1-qc.pdf"; ')
    assert "filename*=UTF-8''%C3%89pisode%20%221%22%0D%0AX-Evil%3A%201-qc.pdf" in header
    assert "\r" not in header and "\n" not in header


def test_the_cli_target_is_checked_and_written(tmp_path: Path) -> None:
    with pytest.raises(ReportNotWritable, match="no such directory"):
        check_target(tmp_path / "missing" / "out.pdf")
    with pytest.raises(ReportNotWritable):
        check_target(tmp_path)
    target = tmp_path / "out.pdf"
    check_target(target)
    write_pdf(target, report_dict())
    assert target.read_bytes().startswith(b"%PDF-")


# --- the dashboard --------------------------------------------------------------------------


def test_the_job_page_offers_the_pdf_and_its_link_serves_it_to_the_session(
    tmp_path: Path, picture: bytes
) -> None:
    with web_rig(tmp_path) as rig:
        job = rig.api.add("episode.mxf")
        [claimed] = [c for c in rig.store.claim("w1", limit=10) if c.job.id == job.id]
        rig.api.services.storage.put_artifact(job.org_id, job.id, THUMB, picture)
        rig.store.complete(claimed.lease, "failed", with_thumbnail(report_dict()))
        browser = signed_in(rig, "viewer")
        page = browser.get(f"/jobs/{job.id}").text
        link = f"/api/qc/jobs/{job.id}/report?format=pdf"
        assert f'href="{link}" download>PDF</a>' in page
        reply = browser.get(link)
        assert reply.status_code == 200 and reply.content.startswith(b"%PDF-")
        assert reply.headers["content-disposition"].startswith(
            'attachment; filename="episode-qc.pdf"'
        )
        assert images_in(reply.content) == 1
        outsider = signed_in(rig, "viewer", org=rig.api.other)
        assert outsider.get(link).status_code == 404
