"""``[delivery] max_attachment_mb`` bounds one message's attachments together, not each file."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

from test_messages import body, settings

from recon.delivery import build_messages
from recon.reporting.data import ReportData

MB = 1024 * 1024


def _file(folder: Path, name: str, megabytes: float) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * int(megabytes * MB))
    return path


def _finance(data: ReportData, tmp_path: Path, limit: float, files: list[Path]) -> EmailMessage:
    limited = settings(tmp_path).model_copy(update={"max_attachment_mb": limit})
    (finance, *_) = build_messages(data, limited, files)
    assert str(finance["X-Recon-Team"]) == "finance"
    return finance


def _text(message: EmailMessage, subtype: str) -> str:
    return " ".join(body(message, subtype).split())


def test_two_files_that_each_fit_but_not_together_attach_only_the_first(
    tmp_path: Path, report_data: ReportData
) -> None:
    """Two 10 MB files under a 15 MB limit made a 20 MB message (27 MB encoded), which the
    relay refuses: finance got no mail. The first file listed is attached; the second is named
    with its size and path, and why it was left out."""
    reports = tmp_path / "reports"
    first = _file(reports, "exceptions.xlsx", 10)
    second = _file(reports, "extra.xlsx", 10)

    finance = _finance(report_data, tmp_path, 15, [first, second])

    attached = list(finance.iter_attachments())
    assert [a.get_filename() for a in attached] == ["exceptions.xlsx"]
    assert sum(len(a.get_content()) for a in attached) <= 15 * MB
    for subtype in ("plain", "html"):
        text = _text(finance, subtype)
        assert "extra.xlsx (10.0 MB) is not attached" in text, subtype
        assert "with the files attached (10.0 MB) the mail's attachments would be 20.0 MB" in text
        assert "max_attachment_mb (15 MB)" in text
        assert str(second.resolve()) in text
        assert "exceptions.xlsx (" not in text  # attached: not named as withheld


def test_a_later_smaller_file_that_still_fits_is_attached(
    tmp_path: Path, report_data: ReportData
) -> None:
    """Files are attached in the order given (the order of priority): one that does not fit is
    withheld, and a later one that still fits with those attached goes in."""
    reports = tmp_path / "reports"
    files = [
        _file(reports, "a.xlsx", 6),
        _file(reports, "b.xlsx", 6),
        _file(reports, "c.xlsx", 3),
    ]

    finance = _finance(report_data, tmp_path, 10, files)

    assert [a.get_filename() for a in finance.iter_attachments()] == ["a.xlsx", "c.xlsx"]
    text = _text(finance, "plain")
    assert "b.xlsx (6.0 MB) is not attached" in text
    assert "c.xlsx (" not in text and "a.xlsx (" not in text


def test_files_that_fit_together_are_all_attached(tmp_path: Path, report_data: ReportData) -> None:
    reports = tmp_path / "reports"
    files = [_file(reports, "a.xlsx", 7), _file(reports, "b.xlsx", 8)]

    finance = _finance(report_data, tmp_path, 15, files)

    assert [a.get_filename() for a in finance.iter_attachments()] == ["a.xlsx", "b.xlsx"]
    assert "not attached" not in _text(finance, "plain")


def test_a_withheld_files_path_with_spaces_is_one_line_in_the_plain_text_mail(
    tmp_path: Path, report_data: ReportData
) -> None:
    """The plain-text mail folds its long lines at spaces, and a reports folder named
    "Finance Reports" is a path with a space: it came out in two lines, which can be neither
    copied nor pasted into a file manager. The path is a line of its own, whole."""
    reports = tmp_path / "Finance Reports" / "acme" / "2026-10-21"
    first = _file(reports, "exceptions.xlsx", 6)
    second = _file(reports, "extra.xlsx", 6)

    finance = _finance(report_data, tmp_path, 10, [first, second])

    lines = [line.strip() for line in body(finance, "plain").splitlines()]
    assert str(second.resolve()) in lines, "\n".join(lines)
