"""The QC report as an A4 PDF (``?format=pdf``, ``kickflow check --pdf``): the HTML report's
sections laid out for print and rendered by WeasyPrint, with the job's thumbnails.

WeasyPrint fetches every picture and stylesheet a page names through a URL fetcher. The one
used here (:class:`ArtifactFetcher`) serves only the artefacts the job's report lists, read from
the storage under the job's own organisation, and refuses anything else (``file:``, ``http(s):``,
``data:``): neither a report's text nor a slip in a renderer can make a render read a local file
or call out over the network.

A render is bounded: at most :data:`MAX_FINDINGS` findings and :data:`MAX_TRANSCRIPT_LINES` lines
of each transcript are laid out (a sentence says how many more the JSON report holds), and at
most :data:`MAX_CONCURRENT` renders run at once in a process, each in the caller's thread (the
API's report route is a plain function, which FastAPI runs in its threadpool).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable, Iterable
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from kickflow import artifacts
from kickflow.errors import PdfResourceRefused, PdfUnavailable, ReportNotWritable
from kickflow.report_html import (
    VERDICT_COLOURS,
    checks_table,
    key_value_table,
    loudness_svg,
    measurement_rows,
    speech_svg,
    subtitles_section,
    timeline_svg,
)
from kickflow.report_text import (
    VERDICT_LABELS,
    finding_span,
    finding_timecode,
    one_line,
    severity_counts,
)
from kickflow.report_timed_text import (
    speech_track_label,
    speech_words,
    transcript_lines,
    transcript_words,
)
from kickflow.storage.names import artifact_key

if TYPE_CHECKING:
    from kickflow.storage import Storage

ReadArtifact = Callable[[str], bytes]  # an artefact's bytes by its name
SCHEME = "artifact:"
MAX_FINDINGS = 500
MAX_TIMELINE_FINDINGS = 1000  # bars on a 960 px timeline; past that they only overdraw
MAX_TRANSCRIPT_LINES = 300
MAX_CONCURRENT = 2
MAX_STEM = 80
_RENDERS = threading.BoundedSemaphore(MAX_CONCURRENT)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}

PRINT_STYLE = """
@page{size:A4;margin:16mm 14mm 18mm;
@top-left{content:"KickFlow QC report";font:8pt sans-serif;color:#777}
@top-right{content:string(file);font:8pt sans-serif;color:#777}
@bottom-center{content:"Page " counter(page) " of " counter(pages);font:8pt sans-serif;color:#555}}
body{font:9pt/1.4 sans-serif;color:#222;margin:0}
h2{font-size:12pt;margin:14pt 0 4pt;break-after:avoid}h3{font-size:10pt;break-after:avoid}
.banner{color:#fff;padding:8pt 12pt;border-radius:4pt}
.banner h1{margin:0;font-size:20pt}.banner p{margin:2pt 0 0}.file{string-set:file content()}
table{border-collapse:collapse;width:100%;margin:4pt 0 10pt}
thead{display:table-header-group}tr{break-inside:avoid}
table.findings{table-layout:fixed}col.sev{width:13%}col.tc{width:15%}col.span{width:15%}
col.check{width:17%}
th,td{text-align:left;padding:2pt 4pt;border-bottom:0.5pt solid #ccc;vertical-align:top}
th{background:#eee}td.num{white-space:nowrap}
td.msg{overflow-wrap:anywhere}
.error{color:#c62828;font-weight:bold}.warning{color:#b86e00;font-weight:bold}.info{color:#1e63b4}
.failed{color:#c62828;font-weight:bold}.skipped{color:#888}.passed{color:#2e7d32}
svg{width:100%;height:auto}
img.thumb{display:block;width:45mm;height:auto;margin-top:2pt}
.more,.unavailable{color:#b86e00}ol.transcript{padding-left:0;list-style:none}
ol.transcript .tc{color:#555;margin-right:6pt}
"""


class ArtifactFetcher:
    """WeasyPrint's only way out: ``artifact:<name>`` for a name the report lists, nothing
    else. Every other URL raises before anything is opened or connected."""

    def __init__(self, names: Iterable[str], read: ReadArtifact | None) -> None:
        self.names = frozenset(names) if read is not None else frozenset()
        self.read = read

    def __call__(self, url: str) -> dict[str, Any]:
        name = url[len(SCHEME) :] if url.startswith(SCHEME) else None
        if name is None or name not in self.names or self.read is None:
            raise PdfResourceRefused(f"refused to fetch {url[:80]!r} for a PDF report")
        return {"string": self.read(name), "mime_type": artifacts.content_type(name)}


def job_artifacts(storage: Storage, org_id: str, job_id: str) -> ReadArtifact:
    """A reader of one job's artefacts: the key is always built from the job's own
    organisation and id, so a name can never reach another job's pictures."""

    def read(name: str) -> bytes:
        return storage.read_artifact(str(artifact_key(org_id, job_id, name)))

    return read


def render_pdf(report: dict[str, Any], read: ReadArtifact | None = None) -> bytes:
    """The report as PDF bytes; the pictures come from ``read`` (None: a PDF without them)."""
    fetcher = ArtifactFetcher(artifacts.listed(report), read)
    shown = fetcher.names if read is not None else frozenset[str]()
    return pdf_from_html(print_html(report, shown), fetcher)


def pdf_from_html(html: str, fetcher: Callable[[str], dict[str, Any]]) -> bytes:
    """Render a page whose every resource goes through ``fetcher``; PdfUnavailable when
    WeasyPrint cannot be loaded (its Pango libraries missing)."""
    try:
        import weasyprint  # type: ignore[import-untyped]
    except (ImportError, OSError) as exc:
        raise PdfUnavailable() from exc
    document = weasyprint.HTML(string=html, base_url=SCHEME, url_fetcher=fetcher)
    stylesheet = weasyprint.CSS(string=PRINT_STYLE, url_fetcher=fetcher)
    with _RENDERS:
        pdf: bytes = document.write_pdf(stylesheets=[stylesheet])
    return pdf


def check_target(path: Path) -> None:
    """ReportNotWritable unless ``path`` can be a new file (checked before a long decode)."""
    if path.is_dir() or not path.parent.is_dir():
        raise ReportNotWritable(f"cannot write the PDF report to {path}: no such directory")


def write_pdf(path: Path, report: dict[str, Any]) -> None:
    """Render ``report`` (without pictures) into the file ``path``."""
    pdf = render_pdf(report)
    try:
        path.write_bytes(pdf)
    except OSError as exc:
        raise ReportNotWritable(f"cannot write the PDF report to {path}: {exc.strerror}") from exc


def pdf_file_name(original: str, fallback: str) -> str:
    """``<original stem>-qc.pdf`` in plain ASCII letters, digits, ``.``, ``_`` and ``-``
    (``<fallback>-qc.pdf`` when nothing of the stem is left)."""
    ascii_stem = unicodedata.normalize("NFKD", _stem(original)).encode("ascii", "ignore").decode()
    safe = _UNSAFE.sub("_", ascii_stem).strip("._-")[:MAX_STEM].rstrip("._-")
    return f"{safe or fallback}-qc.pdf"


def content_disposition(original: str, fallback: str) -> str:
    """An attachment header with the safe name, and the original (UTF-8, percent-encoded) for
    clients that read ``filename*``."""
    full = quote(f"{_stem(original)[:200]}-qc.pdf", safe="")
    return f"attachment; filename=\"{pdf_file_name(original, fallback)}\"; filename*=UTF-8''{full}"


def _stem(name: str) -> str:
    """The name without its extension (a leading dot is not one)."""
    return name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name


# --- the page ---------------------------------------------------------------------------------


def print_html(report: dict[str, Any], pictures: frozenset[str] = frozenset()) -> str:
    """The page WeasyPrint lays out; ``pictures``: the artefact names it may show."""
    name = escape(report["input"]["name"])
    findings = report["findings"]
    parts = [
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>KickFlow QC — {name}</title></head><body>",
        _banner(report),
        "<h2>Measurements</h2>",
        key_value_table(measurement_rows(report)),
        "<h2>Findings timeline</h2>",
        timeline_svg({**report, "findings": findings[:MAX_TIMELINE_FINDINGS]}),
        "<h2>Loudness</h2>",
        loudness_svg(report),
        f"<h2>Findings ({len(findings)})</h2>",
        _thumbnails_note(report),
        _findings_table(findings, pictures),
        subtitles_section(report),
        _speech_section(report),
        "<h2>Checks</h2>",
        checks_table(report),
        f"<p>Generated {escape(str(report.get('generated_at', '')))} by KickFlow QC.</p>",
        "</body></html>\n",
    ]
    return "\n".join(p for p in parts if p)


def _banner(report: dict[str, Any]) -> str:
    verdict = report["verdict"]
    colour = VERDICT_COLOURS.get(verdict, "#555")
    label = escape(VERDICT_LABELS.get(verdict, verdict))
    counts = escape(severity_counts(report["findings"]))
    return (
        f'<div class="banner" style="background:{colour}"><h1>{label}</h1>'
        f'<p><span class="file">{escape(report["input"]["name"])}</span>'
        f" · profile {escape(report['profile']['name'])} · {counts}</p></div>"
    )


def _thumbnails_note(report: dict[str, Any]) -> str:
    thumbnails = report.get("thumbnails") or {}
    if thumbnails.get("status") != "unavailable":
        return ""
    return f'<p class="unavailable">{escape(str(thumbnails.get("message") or ""))}</p>'


def _findings_table(findings: list[dict[str, Any]], pictures: frozenset[str]) -> str:
    if not findings:
        return "<p>No findings.</p>"
    # A fixed layout with set column widths: laying out hundreds of rows stays fast.
    head = (
        '<colgroup><col class="sev"><col class="tc"><col class="span"><col class="check"><col>'
        "</colgroup><thead><tr><th>Severity</th><th>Timecode</th><th>Time</th><th>Check</th>"
        "<th>Finding</th></tr></thead>"
    )
    rows = "".join(_finding_row(f, pictures) for f in _shown(findings))
    table = f'<table class="findings">{head}<tbody>{rows}</tbody></table>'
    rest = len(findings) - MAX_FINDINGS
    if rest <= 0:
        return table
    noun = "finding is" if rest == 1 else "findings are"
    return (
        f'{table}<p class="more">{rest} more {noun} not shown here (the most severe come '
        "first): the JSON and CSV reports list all of them.</p>"
    )


def _shown(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """All findings in the report's order; past the cap, the most severe first."""
    if len(findings) <= MAX_FINDINGS:
        return findings
    ranked = sorted(findings, key=lambda f: SEVERITY_RANK.get(str(f.get("severity")), 3))
    return ranked[:MAX_FINDINGS]


def _finding_row(f: dict[str, Any], pictures: frozenset[str]) -> str:
    severity = escape(str(f["severity"]))
    return (
        f'<tr><td class="{severity}">{severity}</td>'
        f'<td class="num">{escape(finding_timecode(f))}</td>'
        f'<td class="num">{escape(finding_span(f))}</td>'
        f"<td>{escape(str(f['check']))}</td>"
        f'<td class="msg">{escape(str(f["message"]))}{_picture(f, pictures)}</td></tr>'
    )


def _picture(f: dict[str, Any], pictures: frozenset[str]) -> str:
    name = f.get("thumbnail")
    if not isinstance(name, str) or name not in pictures:
        return ""
    at = escape(str(f.get("timecode_start") or f.get("timecode") or "the finding"))
    return f'<img class="thumb" src="{SCHEME}{escape(name)}" alt="Frame at {at}">'


def _speech_section(report: dict[str, Any]) -> str:
    tracks = report.get("speech") or []
    if not tracks:
        return ""
    return "\n".join(["<h2>Speech</h2>", speech_svg(report), *(_speech_track(t) for t in tracks)])


def _speech_track(t: dict[str, Any]) -> str:
    head = f"<h3>{escape(speech_track_label(t))}</h3><p>{escape(speech_words(t))}</p>"
    words, lines = transcript_words(t), transcript_lines(t)
    if words is None:
        return head
    if t.get("transcription_error"):
        return f'{head}<p class="unavailable">{escape(words)}</p>'
    if not lines:  # nothing was heard
        return f"{head}<p>{escape(words)}</p>"
    items = "".join(
        f'<li><span class="tc">{escape(tc)}</span>{escape(one_line(text))}</li>'
        for tc, text in lines[:MAX_TRANSCRIPT_LINES]
    )
    rest = len(lines) - MAX_TRANSCRIPT_LINES
    more = (
        f'<p class="more">{rest} more transcript lines are in the JSON report.</p>'
        if rest > 0
        else ""
    )
    return f'{head}<p>{escape(words)}</p><ol class="transcript">{items}</ol>{more}'
