"""HTML report and e-mail bodies from Jinja2 templates; autoescape on for every HTML template.

Templates only format ``ReportData`` (DESIGN decision 10). ``StrictUndefined`` turns a typo in a
template into an error instead of a silently empty cell.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from recon.money import display_amount
from recon.reporting.charts import findings_by_category_chart
from recon.reporting.data import ReportData

# Where the templates are in a source checkout (and an editable install): the top-level folder.
SOURCE_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def template_folder() -> Path:
    """The folder of the report and e-mail templates.

    An installed wheel carries them inside the package (``recon/templates``: setup.py maps the
    top-level folder there at build time); a source checkout has only the top-level
    ``templates/``. The package's copy is looked for first: above an installed package,
    ``parents[2]`` is site-packages, where a folder named ``templates`` may be anyone's.

    Raises:
        FileNotFoundError: neither place has the templates (a broken install).
    """
    packaged = resources.files("recon").joinpath("templates")
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    if SOURCE_TEMPLATES.is_dir():
        return SOURCE_TEMPLATES
    raise FileNotFoundError(
        f"recon's report templates are missing: neither {packaged} nor {SOURCE_TEMPLATES} exists "
        "(reinstall recon: its wheel carries them in recon/templates)"
    )


def make_environment(templates_dir: Path | None = None) -> Environment:
    """The one Jinja2 environment for reports and e-mails (``template_folder()`` by default).

    Autoescape is chosen by file name: ``*.html`` and ``*.html.j2`` (and anything unknown) are
    escaped; only ``*.txt.j2`` is not, or the plain-text e-mail would be full of ``&amp;``.
    """
    env = Environment(
        loader=FileSystemLoader(str(templates_dir or template_folder())),
        autoescape=select_autoescape(
            enabled_extensions=("html", "html.j2"),
            disabled_extensions=("txt", "txt.j2"),
            default=True,  # an unknown template name is escaped: the safe mistake
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["money"] = money
    env.filters["wrap"] = wrap
    return env


# Plain-text mail lines are folded here: mail readers show a long line as it is, off screen.
TEXT_WIDTH = 76
# A figure, then a currency code or a unit: "1,234.50 USD", "25 MB", "7 unit(s)".
_FIGURE_AND_UNIT = re.compile(r"(\d) ([A-Z]{3}\b|MB\b|units?\b|unit\(s\))")


def wrap(text: str, indent: str = "", hang: str = "  ") -> str:
    """``text`` folded at ``TEXT_WIDTH`` columns for the plain-text mail, each line after the
    first indented by ``hang`` more than the first (``indent``).

    Only spaces break a line: an id, a key or a path is never cut, at a hyphen or anywhere
    else (a token longer than the width gets a line of its own), so it can still be copied.
    A path may hold a space ("Finance Reports"), where it would be folded: the templates put
    a path on a line of its own, outside this filter.
    """
    # A figure and its currency or unit ("1,234.50 USD", "25 MB", "7 units") stay on one line:
    # textwrap does not break at a no-break space, which is turned back into a space after.
    held_together = _FIGURE_AND_UNIT.sub("\\1\u00a0\\2", text)
    folded = textwrap.fill(
        held_together,
        TEXT_WIDTH,
        initial_indent=indent,
        subsequent_indent=indent + hang,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return folded.replace("\u00a0", " ")


def money(amount: Decimal, currency: str) -> str:
    """``1234.5, "USD"`` → ``"1,234.50 USD"`` (``recon.money.display_amount``)."""
    return display_amount(amount, currency)


def _context(data: ReportData, **extra: Any) -> dict[str, Any]:
    return {
        "data": data,
        "headline": data.headline,
        "chart": findings_by_category_chart(data.by_category),
        **extra,
    }


def render_report(data: ReportData, env: Environment | None = None) -> str:
    """The HTML report as a string."""
    env = env or make_environment()
    return env.get_template("report.html.j2").render(_context(data))


@dataclass(frozen=True)
class Withheld:
    """A file left out of a mail by ``[delivery] max_attachment_mb``: the mail says where it is.

    ``attached_mb`` is what the message already carries when the file would fit alone but not
    with the files attached before it (the limit bounds a message's attachments together).
    """

    path: Path
    size_mb: float
    limit_mb: float
    attached_mb: float = 0.0

    @property
    def alone_over(self) -> bool:
        """True when the file on its own is over the limit."""
        return self.size_mb > self.limit_mb

    @property
    def shown_mb(self) -> str:
        """The size to one decimal; a file over the limit on its own reads over it, as it is:
        a file a byte over 2 MB reads "2.1 MB", not "2.0 MB" beside "over 2 MB"."""
        if self.alone_over:
            return _over(self.size_mb, self.limit_mb)
        return f"{self.size_mb:.1f}"

    @property
    def shown_attached_mb(self) -> str:
        """What the message already carries, to one decimal."""
        return f"{self.attached_mb:.1f}"

    @property
    def shown_total_mb(self) -> str:
        """The attachments with this file, to one decimal, over the limit as they are."""
        return _over(self.attached_mb + self.size_mb, self.limit_mb)


def _over(size_mb: float, limit_mb: float) -> str:
    """``size_mb`` (over ``limit_mb``) to one decimal, never rounded down to the limit."""
    tenths = round(size_mb * 10)
    if tenths <= limit_mb * 10:
        tenths = math.floor(limit_mb * 10) + 1
    return f"{tenths / 10:.1f}"


def render_email(
    data: ReportData,
    team: str,
    env: Environment | None = None,
    withheld: Sequence[Withheld] = (),
) -> tuple[str, str]:
    """Plain-text and HTML bodies of one team's e-mail."""
    env = env or make_environment()
    context = _context(data, team=team, withheld=withheld)
    text = env.get_template("email.txt.j2").render(context)
    html = env.get_template("email.html.j2").render(context)
    return text, html


def write_report_html(data: ReportData, path: Path) -> Path:
    """Write ``report.html``.

    Raises:
        OSError: if the file cannot be written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(data), encoding="utf-8")
    return path
