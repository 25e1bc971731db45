"""E-mails per team and outbox behaviour of ``deliver`` with a fake mailer."""

from __future__ import annotations

import dataclasses
import re
from email.message import EmailMessage
from pathlib import Path
from unittest.mock import MagicMock

import pytest
from report_samples import AS_OF, finding, make_data, sample_findings

from recon.config import DeliverySettings, Settings, SmtpSettings
from recon.delivery import (
    OutboxMailer,
    SmtpMailer,
    build_messages,
    deliver,
    read_eml,
    write_eml,
)
from recon.errors import DeliveryError
from recon.models import Category, FindingStatus, Owner
from recon.reporting.data import ReportData
from recon.reporting.figures import for_team
from recon.reporting.html import render_report


class FakeMailer:
    """Records what it sends; fails while ``down`` is set."""

    def __init__(self, down: bool = False) -> None:
        self.down = down
        self.sent: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> None:
        if self.down:
            raise DeliveryError("connection refused")
        self.sent.append(message)


def settings(tmp_path: Path) -> DeliverySettings:
    return DeliverySettings(
        outbox_dir=tmp_path / "outbox",
        recipients={
            "finance": ["fin@example.com"],
            "warehouse": ["wh@example.com"],
            "cx": ["cx@example.com"],
        },
    )


def body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None
    return str(part.get_content())


def test_each_team_gets_only_its_items(tmp_path: Path, report_data: ReportData) -> None:
    xlsx = tmp_path / "monthend.xlsx"
    xlsx.write_bytes(b"PK fake workbook")
    messages = {
        str(m["X-Recon-Team"]): m for m in build_messages(report_data, settings(tmp_path), [xlsx])
    }
    assert set(messages) == {"finance", "warehouse", "cx"}
    finance, warehouse, cx = messages["finance"], messages["warehouse"], messages["cx"]
    assert finance["To"] == "fin@example.com"
    assert "MISSING_RESTOCK" in body(warehouse, "plain")
    assert "MISSING_REFUND" not in body(warehouse, "plain")
    assert "REFUND_FAILED" in body(cx, "html") and "DUPLICATE_REFUND" not in body(cx, "html")
    assert all(
        k in body(finance, "plain") for k in ("MISSING_REFUND", "MISSING_RESTOCK", "REFUND_FAILED")
    )
    attachments = list(finance.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["monthend.xlsx"]
    assert attachments[0].get_content() == b"PK fake workbook"
    assert not list(warehouse.iter_attachments())  # the workbook lists every team's items


def test_no_customer_pii_unless_configured(tmp_path: Path) -> None:
    def whole(data: ReportData) -> str:
        return "".join(m.as_string() for m in build_messages(data, settings(tmp_path)))

    assert "jane.doe@example.com" not in whole(make_data())
    assert "555-123-4567" not in whole(make_data())
    assert "jane.doe@example.com" in whole(make_data(include_customer_pii=True))


def test_quiet_teams_get_no_mail(tmp_path: Path) -> None:
    data = make_data(findings=[], previous_findings=None)
    assert [str(m["X-Recon-Team"]) for m in build_messages(data, settings(tmp_path))] == ["finance"]


def test_failed_send_is_kept_in_the_outbox_and_sent_next_time(
    tmp_path: Path, report_data: ReportData
) -> None:
    outbox = tmp_path / "outbox"
    messages = build_messages(report_data, settings(tmp_path))
    mailer = FakeMailer(down=True)
    first = deliver(messages, mailer, outbox)
    assert not first.ok and len(first.kept) == 3 and len(first.errors) == 3
    assert sorted(p.name for p in outbox.glob("*.eml")) == sorted(p.name for p in first.kept)

    mailer.down = False
    second = deliver([], mailer, outbox)
    assert second.ok and len(second.resent) == 3
    assert sorted(str(m["Subject"]) for m in mailer.sent) == sorted(
        str(m["Subject"]) for m in messages
    )
    assert not list(outbox.glob("*.eml")) and len(list((outbox / "sent").glob("*.eml"))) == 3
    resent = mailer.sent[0]
    assert resent.get_body(preferencelist=("html",)) is not None  # alternatives survive the file


def test_outbox_mode_writes_eml_and_resends_nothing(
    tmp_path: Path, report_data: ReportData
) -> None:
    outbox = tmp_path / "outbox"
    messages = build_messages(report_data, settings(tmp_path))
    result = deliver(messages, OutboxMailer(outbox), outbox)
    again = deliver(messages, OutboxMailer(outbox), outbox)
    assert result.ok and again.ok and not again.resent
    files = sorted(outbox.glob("*.eml"))
    assert len(files) == 6  # handed the same messages twice: both kept, nothing written over
    assert read_eml(files[0])["X-Recon-Run"] == "run-20261101"


def test_switching_from_outbox_to_smtp_mails_no_old_report(
    tmp_path: Path, report_data: ReportData
) -> None:
    """Weeks in outbox mode, then ``mode = "smtp"``: the first SMTP night mailed finance every
    report the outbox already held (delivered there, not waiting), stale findings and all."""
    outbox = tmp_path / "outbox"
    deliver(build_messages(report_data, settings(tmp_path)), OutboxMailer(outbox), outbox)
    mailer = FakeMailer()
    result = deliver([], mailer, outbox)
    assert (mailer.sent, result.resent) == ([], [])
    assert len(list(outbox.glob("*.eml"))) == 3  # left where outbox mode delivered them


def test_a_shop_resends_only_its_own_waiting_mail(tmp_path: Path, report_data: ReportData) -> None:
    """Two shops of an agency share the default outbox. Shop B's SMTP was down; shop A's next
    run must not send B's reports through A's account: B's own next run does."""
    outbox = tmp_path / "outbox"
    theirs = build_messages(dataclasses.replace(report_data, shop="shop-b"), settings(tmp_path))
    deliver(theirs, FakeMailer(down=True), outbox, shop="shop-b")
    ours = FakeMailer()
    a = deliver([], ours, outbox, shop=report_data.shop)
    assert (ours.sent, a.resent) == ([], [])
    b_mailer = FakeMailer()
    b = deliver([], b_mailer, outbox, shop="shop-b")
    assert len(b.resent) == len(theirs) == len(b_mailer.sent)
    assert {str(m["X-Recon-Shop"]) for m in b_mailer.sent} == {"shop-b"}


def test_a_missing_smtp_credential_keeps_every_message_in_the_outbox(
    tmp_path: Path, report_data: ReportData, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The password's variable is unset: nothing can be sent, and nothing is lost."""
    monkeypatch.delenv("RECON_TEST_SMTP_PASSWORD", raising=False)
    monkeypatch.setenv("RECON_TEST_SMTP_USER", "recon")
    smtp = SmtpSettings(
        host="127.0.0.1",
        port=1,
        security="ssl",
        username_env="RECON_TEST_SMTP_USER",
        password_env="RECON_TEST_SMTP_PASSWORD",
    )
    mailer = SmtpMailer(smtp, Settings().secret)
    connected = MagicMock()
    monkeypatch.setattr(mailer, "_connect", lambda: connected)
    outbox = tmp_path / "outbox"
    result = deliver(build_messages(report_data, settings(tmp_path)), mailer, outbox)
    assert not result.ok and len(list(outbox.glob("*.eml"))) == 3
    assert all("RECON_TEST_SMTP_PASSWORD" in error for error in result.errors)
    connected.__enter__.return_value.send_message.assert_not_called()


def test_team_mails_count_only_the_teams_own_actions(report_data: ReportData) -> None:
    """The sample has a finance refund waiting for approval and a warehouse restock."""
    assert [a["category"] for a in report_data.waiting_actions] == ["MISSING_REFUND"]
    warehouse = for_team(report_data, Owner.WAREHOUSE)
    assert [a["category"] for a in warehouse.actions] == ["MISSING_RESTOCK"]
    assert warehouse.waiting_actions == () and for_team(report_data, Owner.CX).actions == ()
    assert len(for_team(report_data, Owner.FINANCE).waiting_actions) == 1


def test_a_mail_with_actions_waiting_does_not_say_there_is_nothing_to_do(tmp_path: Path) -> None:
    """No finding is open, but the sample's refund waits for approval: finance's mail (and the
    report) said "Actions waiting for a decision: 1" and then "Nothing for finance to do"."""
    data = make_data(findings=[], previous_findings=None)
    assert len(data.waiting_actions) == 1 and data.headline.open_findings == 0
    (finance,) = build_messages(data, settings(tmp_path))
    for text in (body(finance, "plain"), body(finance, "html"), render_report(data)):
        assert "Nothing" not in text
        assert "No open findings" in text
    idle = make_data(findings=[], previous_findings=None, actions=[])
    (quiet,) = build_messages(idle, settings(tmp_path))
    assert "Nothing for finance to do." in body(quiet, "plain")


def test_the_html_mail_says_which_categories_were_muted(tmp_path: Path) -> None:
    data = make_data(muted=(("MISSING_RESTOCK", 4),))
    (finance,) = [
        m for m in build_messages(data, settings(tmp_path)) if m["X-Recon-Team"] == "finance"
    ]
    assert "MISSING_RESTOCK (4)" in body(finance, "html")
    assert "MISSING_RESTOCK (4)" in body(finance, "plain")


def test_the_mails_say_what_test_orders_left_out(tmp_path: Path) -> None:
    data = make_data(left_out=(("returns", 2),))
    (finance,) = [
        m for m in build_messages(data, settings(tmp_path)) if m["X-Recon-Team"] == "finance"
    ]
    assert "Shopify test orders left out" in body(finance, "html")
    assert "test orders left out (engine.include_test_orders = false): returns 2." in body(
        finance, "plain"
    )


def test_unwritable_outbox_is_an_error(tmp_path: Path, report_data: ReportData) -> None:
    blocker = tmp_path / "outbox"
    blocker.write_text("not a directory")
    with pytest.raises(DeliveryError, match="outbox failed too"):
        deliver(build_messages(report_data, settings(tmp_path)), FakeMailer(down=True), blocker)


class RacingMailer(FakeMailer):
    """Shop A's SMTP; while it sends A's first message, shop B's run (another process sharing
    the outbox) resends B's waiting mail and moves it to ``sent/``, as ``deliver`` does."""

    def __init__(self, outbox: Path) -> None:
        super().__init__()
        self.outbox = outbox

    def send(self, message: EmailMessage) -> None:
        if not self.sent:
            for path in self.outbox.glob("*.eml"):
                if read_eml(path)["X-Recon-Shop"] == "shop-b":
                    (self.outbox / "sent").mkdir(exist_ok=True)
                    path.replace(self.outbox / "sent" / path.name)
        super().send(message)


def test_another_shops_run_taking_its_mail_meanwhile_does_not_fail_this_one(
    tmp_path: Path, report_data: ReportData
) -> None:
    """Both shops' mail waits in the shared outbox after a night the SMTP relay was down; their
    next runs start at the same minute. B's run sends and moves its files while A's run goes
    through the outbox: A's run used to fail on B's vanished file (FileNotFoundError) and its
    own report of the night was neither sent nor kept."""
    outbox = tmp_path / "outbox"
    ours = dataclasses.replace(report_data, run_id="a-run")  # A's files sort first
    theirs = dataclasses.replace(report_data, shop="shop-b", run_id="b-run")
    for data in (ours, theirs):
        messages = build_messages(data, settings(tmp_path))
        deliver(messages, FakeMailer(down=True), outbox, shop=data.shop)
    tonight = build_messages(dataclasses.replace(ours, run_id="a-tonight"), settings(tmp_path))
    mailer = RacingMailer(outbox)
    result = deliver(tonight, mailer, outbox, shop=report_data.shop)
    assert len(result.resent) == len(tonight) and result.ok
    assert {str(m["X-Recon-Shop"]) for m in mailer.sent} == {report_data.shop}
    assert len(mailer.sent) == 2 * len(tonight)  # last night's and tonight's


class SharedLegacyMailer(FakeMailer):
    """Shop A's SMTP; while it sends a waiting message that names no shop (kept before messages
    named theirs, so any shop's run resends it), shop B's run sends that file too and moves it
    to ``sent/``."""

    def __init__(self, outbox: Path) -> None:
        super().__init__()
        self.outbox = outbox

    def send(self, message: EmailMessage) -> None:
        if message["X-Recon-Shop"] is None:
            for path in self.outbox.glob("*.eml"):
                (self.outbox / "sent").mkdir(exist_ok=True)
                path.replace(self.outbox / "sent" / path.name)
        super().send(message)


def test_a_waiting_message_another_run_moved_while_this_one_sent_it_does_not_fail_the_run(
    tmp_path: Path, report_data: ReportData
) -> None:
    """After the upgrade, mail kept without a shop header waits in the shared outbox; shops A
    and B run at the same minute and both resend it. B moves the file to ``sent/`` first: A's
    run used to fail moving it (FileNotFoundError), with tonight's report neither sent nor kept.
    """
    outbox = tmp_path / "outbox"
    (legacy,) = build_messages(report_data, settings(tmp_path))[:1]
    del legacy["X-Recon-Shop"]
    write_eml(legacy, outbox)
    tonight = build_messages(dataclasses.replace(report_data, run_id="tonight"), settings(tmp_path))
    mailer = SharedLegacyMailer(outbox)
    result = deliver(tonight, mailer, outbox, shop=report_data.shop)
    assert result.ok and len(result.sent) == len(tonight)
    assert (outbox / "sent").is_dir() and not list(outbox.glob("*.eml"))


def test_each_team_is_told_of_its_findings_left_out_as_test_orders(tmp_path: Path) -> None:
    """Last night finance had a MISSING_REFUND and the warehouse a MISSING_RESTOCK on an order
    that has since turned out to be a Shopify test order: both are gone from tonight's open
    findings though nothing was fixed. Each team's e-mail says so beside new and resolved (the
    report does), not only a lower open count; CX, who had none, is told nothing."""
    left = [
        finding(
            Category.MISSING_REFUND,
            "rma=12345777",
            "25.00",
            "USD",
            rma="12345777",
            status=FindingStatus.LEFT_OUT,
            resolved_at=AS_OF,
        ),
        finding(
            Category.MISSING_RESTOCK,
            "rma=12345777,line=9",
            "25.00",
            "USD",
            rma="12345777",
            owner=Owner.WAREHOUSE,
            status=FindingStatus.LEFT_OUT,
            resolved_at=AS_OF,
        ),
    ]
    data = make_data(findings=[*sample_findings(), *left])
    messages = {str(m["X-Recon-Team"]): m for m in build_messages(data, settings(tmp_path))}
    for team, count in (("finance", 2), ("warehouse", 1)):
        for subtype in ("plain", "html"):
            text = " ".join(body(messages[team], subtype).split())
            assert re.search(rf"left out[^0-9<]*(<[^>]*>)?{count}\b", text), (team, subtype, text)
            assert "test order" in text
    assert "left out" not in body(messages["cx"], "plain").replace(
        "Shopify test orders left out (engine", ""
    )


def test_a_team_whose_last_finding_was_left_out_is_told(tmp_path: Path) -> None:
    """The warehouse's one open MISSING_RESTOCK was on an order that turned out to be a test
    order: its open count went from 1 to 0. As when its last finding is resolved, it gets a
    message saying so (a quiet team gets none), not silence."""
    left = finding(
        Category.MISSING_RESTOCK,
        "rma=12345777,line=9",
        "25.00",
        "USD",
        owner=Owner.WAREHOUSE,
        status=FindingStatus.LEFT_OUT,
        resolved_at=AS_OF,
    )
    data = make_data(findings=[left], previous_findings=None)
    messages = {str(m["X-Recon-Team"]): m for m in build_messages(data, settings(tmp_path))}
    assert set(messages) == {"finance", "warehouse"}
    assert "left out: 1" in body(messages["warehouse"], "plain")


def test_a_workbook_over_the_attachment_limit_is_named_not_attached(
    tmp_path: Path, report_data: ReportData
) -> None:
    """A relay refuses a message over its size limit (commonly 25 MB, encoding included): the
    night of a spike, finance would get no mail at all. Past ``max_attachment_mb`` the finance
    mail goes without the workbook and says where it is."""
    big = tmp_path / "reports" / "exceptions.xlsx"
    big.parent.mkdir()
    big.write_bytes(b"PK" + b"\0" * 3 * 1024 * 1024)  # 3 MB
    limited = settings(tmp_path).model_copy(update={"max_attachment_mb": 2})

    (finance, *_) = build_messages(report_data, limited, [big])

    assert str(finance["X-Recon-Team"]) == "finance"
    assert not list(finance.iter_attachments())
    for subtype in ("plain", "html"):
        text = " ".join(body(finance, subtype).split())
        assert "exceptions.xlsx (3.0 MB) is not attached" in text, subtype
        assert "max_attachment_mb (2 MB)" in text
        assert str(big) in text
    (attached, *_) = build_messages(report_data, settings(tmp_path), [big])  # default 15 MB
    assert [a.get_filename() for a in attached.iter_attachments()] == ["exceptions.xlsx"]
    assert "not attached" not in body(attached, "plain")


def test_a_workbook_just_over_the_limit_is_said_to_be_over_it(
    tmp_path: Path, report_data: ReportData
) -> None:
    """A workbook of exactly ``max_attachment_mb`` is attached; one byte more is not, and the
    mail gave its size rounded to the limit: "exceptions.xlsx (2.0 MB) is not attached: it is
    over [delivery] max_attachment_mb (2 MB)". The size said is over the limit."""
    book = tmp_path / "reports" / "exceptions.xlsx"
    book.parent.mkdir()
    limited = settings(tmp_path).model_copy(update={"max_attachment_mb": 2})
    book.write_bytes(b"\0" * 2 * 1024 * 1024)
    (finance, *_) = build_messages(report_data, limited, [book])
    assert [a.get_filename() for a in finance.iter_attachments()] == ["exceptions.xlsx"]

    book.write_bytes(b"\0" * (2 * 1024 * 1024 + 1))
    (finance, *_) = build_messages(report_data, limited, [book])
    assert not list(finance.iter_attachments())
    for subtype in ("plain", "html"):
        text = " ".join(body(finance, subtype).split())
        said = re.search(r"exceptions\.xlsx \(([\d.]+) MB\) is not attached", text)
        assert said is not None, subtype
        assert float(said.group(1)) > 2, text
