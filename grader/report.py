"""The class report, ``report.html``, that ``batch`` writes beside
``scores.csv``: who was graded, how the totals and each question's points
are spread, which tests the class failed most (with their hints), what could
not be graded and why, the slowest gradings, and every student's row.

One self-contained file that opens offline: inline CSS, plots drawn here as
inline SVG, and one small script that sorts the students' table (the page
reads fine without it).  Its Content-Security-Policy allows that style and
that script by their hashes and nothing else, so even markup that slipped
past escaping could load nothing and run nothing.  Student names and
messages come from students: every string is escaped.  Nothing depends on
the clock or on dict order: the same input gives the same bytes.
"""
import base64
import hashlib
import html
import math
import os
import statistics
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence, Tuple

from .errors import GraderError
from .questions import QUESTIONS, TOTAL_POINTS, Question

STATUSES = ("graded", "ungradable", "crashed", "stopped", "missing")
# Statuses with a score for the gradebook: ungradable is a real 0 (as in summary.txt).
SCORED = ("graded", "ungradable")
BINS = 10
MOST_FAILED = 20
SLOWEST = 10


@dataclass(frozen=True)
class ClassRow:
    student: str  # the submission's name
    status: str  # one of STATUSES; "missing": on the roster, no submission
    total: float  # points of 100 (0 unless graded)
    points: Mapping[str, float]  # question name -> points (empty unless graded)
    failed: Tuple[str, ...]  # test ids that failed, "<suite>:<nodeid>"
    seconds: float  # grading time
    message: str  # for ungradable/crashed/stopped: why (first lines of results.json's output)


@dataclass(frozen=True)
class TestInfo:
    """One graded test, from the answer key."""

    __test__ = False  # a name pytest would otherwise collect

    question: str
    suite: str  # "public" or "hidden"
    name: str  # the test's name as students see it (no file path), e.g. "test_x[a]"
    hint: str


@dataclass(frozen=True)
class Bin:
    low: float
    high: float
    count: int


@dataclass(frozen=True)
class FailedTest:
    test_id: str
    info: TestInfo
    count: int  # graded students failing it
    share: float  # of the graded students


def histogram(values: Iterable[float], top: float, bins: int = BINS) -> Tuple[Bin, ...]:
    """Counts of ``values`` in ``bins`` equal bins over 0..top; the last bin
    is closed, so that full marks count in it."""
    counts = [0] * bins
    for value in values:
        # Rounded: points summed from equal shares (6 x 5/15 = 1.9999999999999998) land in the bin they mean.
        index = math.floor(round(value * bins / top, 6))
        counts[min(max(index, 0), bins - 1)] += 1
    return tuple(Bin(top * i / bins, top * (i + 1) / bins, count) for i, count in enumerate(counts))


def _unknown_test(test_id: str) -> TestInfo:
    suite, _, nodeid = test_id.partition(":")
    return TestInfo(question="", suite=suite, name=nodeid.rpartition("::")[2], hint="(not in the answer key)")


def most_failed(rows: Sequence[ClassRow], tests: Mapping[str, TestInfo], limit: int = MOST_FAILED,
                questions: Sequence[Question] = QUESTIONS) -> Tuple[FailedTest, ...]:
    """The tests failed by the most graded students, most first (ties in the
    questions' order, then by id)."""
    graded = [row for row in rows if row.status == "graded"]
    counts = Counter(test_id for row in graded for test_id in set(row.failed))
    order = {q.name: i for i, q in enumerate(questions)}
    infos = {test_id: tests.get(test_id) or _unknown_test(test_id) for test_id in counts}
    ranked = sorted(counts, key=lambda t: (-counts[t], order.get(infos[t].question, len(order)), t))[:limit]
    return tuple(FailedTest(t, infos[t], counts[t], counts[t] / len(graded)) for t in ranked)


def slowest(rows: Sequence[ClassRow], limit: int = SLOWEST) -> Tuple[ClassRow, ...]:
    ran = [row for row in rows if row.status != "missing"]
    return tuple(sorted(ran, key=lambda row: (-row.seconds, row.student))[:limit])


# -- HTML ------------------------------------------------------------------

def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _num(value: float) -> str:
    """Points as people write them: 7.5, 10, 3.33."""
    return f"{round(value, 2):g}"


def _c(value: float) -> str:
    """An SVG coordinate."""
    return f"{value:.1f}"


@dataclass(frozen=True)
class Frame:
    """A histogram's size and margins (pixels)."""

    width: int
    height: int
    left: int = 40
    right: int = 10
    top: int = 18  # room for the counts above the bars
    bottom: int = 36  # the ticks and the x axis' label
    font: int = 11


BIG = Frame(640, 260)
SMALL = Frame(250, 150, left=34, font=10)


def histogram_svg(bins: Sequence[Bin], *, x_label: str, unit: str, frame: Frame, ticks_every: int,
                  label: str) -> str:
    """Bars with their counts above them, x ticks at every ``ticks_every``
    bin edge; each bar carries ``data-count`` and a tooltip."""
    f = frame
    plot_w, plot_h = f.width - f.left - f.right, f.height - f.top - f.bottom
    base = f.top + plot_h
    tallest = max((b.count for b in bins), default=0) or 1
    step = plot_w / len(bins)
    parts = [f'<svg class="plot" role="img" aria-label="{_e(label)}" width="{f.width}" height="{f.height}" '
             f'viewBox="0 0 {f.width} {f.height}" font-size="{f.font}">',
             f'<title>{_e(label)}</title>']
    for i, b in enumerate(bins):
        height = plot_h * b.count / tallest
        x, y = f.left + i * step + 1, base - height
        last = "]" if i == len(bins) - 1 else ")"
        parts.append(f'<rect class="bar" data-count="{b.count}" data-low="{_num(b.low)}" data-high="{_num(b.high)}" '
                     f'x="{_c(x)}" y="{_c(y)}" width="{_c(step - 2)}" height="{_c(height)}">'
                     f'<title>[{_num(b.low)}, {_num(b.high)}{last} {unit}: {b.count} '
                     f'student{"" if b.count == 1 else "s"}</title></rect>')
        if b.count:
            parts.append(f'<text class="count" x="{_c(x + (step - 2) / 2)}" y="{_c(y - 3)}" '
                         f'text-anchor="middle">{b.count}</text>')
    parts.append(f'<path class="axis" d="M{f.left} {f.top} V{base} H{f.left + plot_w}"/>')
    for i in range(0, len(bins) + 1, ticks_every):
        x = f.left + i * step
        edge = bins[i].low if i < len(bins) else bins[-1].high
        parts.append(f'<path class="axis" d="M{_c(x)} {base} v4"/>'
                     f'<text x="{_c(x)}" y="{base + f.font + 4}" text-anchor="middle">{_num(edge)}</text>')
    parts.append(f'<text x="{f.left + plot_w / 2:.1f}" y="{f.height - 4}" text-anchor="middle">{_e(x_label)}</text>')
    parts.append(f'<text x="{f.left - 6}" y="{base}" text-anchor="end">0</text>'
                 f'<text x="{f.left - 6}" y="{f.top + f.font / 2 - 1:.1f}" text-anchor="end">{tallest}</text>'
                 f'<text transform="translate({f.font + 1} {f.top + plot_h / 2:.1f}) rotate(-90)" '
                 f'text-anchor="middle">students</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table(head: Sequence[str], body: Iterable[str], *, cls: str) -> str:
    """``head``: the header cells' HTML; ``body``: the rows' HTML."""
    rows = "\n".join(body)
    return (f'<table class="{cls}"><thead><tr>{"".join(head)}</tr></thead>\n'
            f'<tbody>\n{rows}\n</tbody></table>')


def _header(rows: Sequence[ClassRow]) -> str:
    counts = Counter(row.status for row in rows)
    scored = [row.total for row in rows if row.status in SCORED]
    stats = (f"mean {_num(statistics.mean(scored))}, median {_num(statistics.median(scored))} "
             f"(of {len(scored)} graded and ungradable students; ungradable ones score 0)"
             if scored else "no scores yet")
    cells = "".join(f'<div class="stat {status}"><b>{counts[status]}</b> {status}</div>' for status in STATUSES)
    return (f'<h1>Class report</h1>\n<p class="lead"><b>{len(rows)}</b> students. Total (points of '
            f'{TOTAL_POINTS}): {stats}.</p>\n<div class="stats">{cells}</div>')


def _distributions(rows: Sequence[ClassRow], questions: Sequence[Question]) -> str:
    scored = [row.total for row in rows if row.status in SCORED]
    graded = [row for row in rows if row.status == "graded"]
    totals = histogram_svg(histogram(scored, TOTAL_POINTS), x_label=f"total (points of {TOTAL_POINTS})",
                           unit="points", frame=BIG, ticks_every=1, label="Totals of the class")
    figures = []
    for q in questions:
        points = [row.points.get(q.name, 0.0) for row in graded]
        mean = f", mean {_num(statistics.mean(points))}" if points else ""
        svg = histogram_svg(histogram(points, q.points), x_label=f"points of {q.points}", unit="points",
                            frame=SMALL, ticks_every=BINS // 2, label=f"Points on {q.name}")
        figures.append(f'<figure class="question" data-question="{_e(q.name)}">{svg}<figcaption>'
                       f'<b>{_e(q.name)}</b>{mean}<br><span>{_e(q.title)}</span></figcaption></figure>')
    return (f'<h2>Totals</h2>\n<p>Graded and ungradable students ({len(scored)}), in bins of '
            f'{TOTAL_POINTS // BINS} points (the last one holds full marks).</p>\n'
            f'<figure class="totals">{totals}</figure>\n'
            f'<h2>Points per question</h2>\n<p>Graded students ({len(graded)}), each question in {BINS} bins '
            f'from 0 to its points.</p>\n<div class="questions">\n' + "\n".join(figures) + "\n</div>")


def _failed(rows: Sequence[ClassRow], tests: Mapping[str, TestInfo], questions: Sequence[Question]) -> str:
    top = most_failed(rows, tests, questions=questions)
    if not top:
        return "<h2>Tests the class failed most</h2>\n<p>No graded student failed a test.</p>"
    head = ["<th>question</th>", "<th>suite</th>", "<th>test</th>", "<th>hint</th>",
            '<th class="num">students</th>', '<th class="num">share</th>']
    body = (f'<tr class="failed" data-count="{t.count}"><td>{_e(t.info.question)}</td><td>{_e(t.info.suite)}</td>'
            f'<td><code>{_e(t.info.name)}</code></td><td>{_e(t.info.hint)}</td>'
            f'<td class="num">{t.count}</td><td class="num">{t.share:.0%}</td></tr>' for t in top)
    return (f'<h2>Tests the class failed most</h2>\n<p>The {len(top)} tests that the most graded students failed: '
            f'the behaviours the class struggles with.</p>\n' + _table(head, body, cls="most-failed"))


def _not_graded(rows: Sequence[ClassRow]) -> str:
    order = {status: i for i, status in enumerate(STATUSES)}
    left = sorted((row for row in rows if row.status != "graded"), key=lambda row: (order[row.status], row.student))
    if not left:
        return "<h2>Not graded</h2>\n<p>Every submission was graded.</p>"
    body = (f'<tr class="{_e(row.status)}"><td>{_e(row.student)}</td><td>{_e(row.status)}</td>'
            f'<td><pre>{_e(row.message)}</pre></td></tr>' for row in left)
    return ("<h2>Not graded</h2>\n<p>Ungradable (the submission's fault: 0 points), crashed (the grader's fault: "
            "rerun), stopped (rerun) and missing (on the roster, nothing submitted).</p>\n"
            + _table(["<th>student</th>", "<th>status</th>", "<th>why</th>"], body, cls="not-graded"))


def _slowest(rows: Sequence[ClassRow]) -> str:
    body = (f'<tr><td>{_e(row.student)}</td><td>{_e(row.status)}</td><td class="num">{row.seconds:.1f}</td></tr>'
            for row in slowest(rows))
    return (f"<h2>Slowest gradings</h2>\n"
            + _table(["<th>student</th>", "<th>status</th>", '<th class="num">seconds</th>'], body, cls="slowest"))


def _students(rows: Sequence[ClassRow], questions: Sequence[Question]) -> str:
    head = ["<th>student</th>", "<th>status</th>", '<th class="num">total</th>',
            *(f'<th class="num" title="{_e(q.title)} ({q.points} points)">{_e(q.name)}</th>' for q in questions)]
    body = []
    for row in sorted(rows, key=lambda row: row.student):
        # Crashed, stopped and missing students have no score yet: they sort below 0.
        total = (f'<td class="num" data-value="{row.total:.4f}">{_num(row.total)}</td>' if row.status in SCORED
                 else '<td class="num" data-value="-1">&ndash;</td>')
        cells = []
        for q in questions:
            if row.status != "graded":
                cells.append('<td class="num" data-value="-1"></td>')
                continue
            points = row.points.get(q.name, 0.0)
            mark = " full" if round(points, 6) >= q.points else " none" if points <= 0 else ""
            cells.append(f'<td class="num{mark}" data-value="{points:.4f}">{_num(points)}</td>')
        body.append(f'<tr><td>{_e(row.student)}</td><td>{_e(row.status)}</td>{total}{"".join(cells)}</tr>')
    return ("<h2>Every student</h2>\n<p>Click a column's name to sort by it.</p>\n"
            + _table(head, body, cls="sortable students"))


STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; color: #222; margin: 24px auto; max-width: 1100px; padding: 0 16px; }
h1 { margin-bottom: 4px; } h2 { margin-top: 32px; border-bottom: 1px solid #ddd; }
.stats { display: flex; gap: 12px; flex-wrap: wrap; }
.stat { border: 1px solid #ccc; border-radius: 4px; padding: 4px 10px; } .stat b { font-size: 18px; }
figure { margin: 0; }
.questions { display: grid; grid-template-columns: repeat(auto-fill, minmax(250px, 1fr)); gap: 16px; }
figcaption { font-size: 12px; } figcaption span { color: #555; }
svg.plot { display: block; overflow: visible; fill: #222; }
svg .bar { fill: #4a7ebb; } svg .bar:hover { fill: #2b5d99; }
svg .axis { stroke: #444; fill: none; }
table { border-collapse: collapse; margin-top: 8px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } .num { text-align: right; }
td.full { background: #e3f3e3; } td.none { background: #fbe3e3; }
table.sortable th { cursor: pointer; user-select: none; }
table.students { display: block; overflow-x: auto; }  /* a column per question: scroll, not overflow */
th[aria-sort="ascending"]::after { content: " \\25B2"; } th[aria-sort="descending"]::after { content: " \\25BC"; }
pre { margin: 0; white-space: pre-wrap; word-break: break-word; max-width: 700px; }
"""

# Sorts a table by the clicked column: numbers by their data-value, names by text.
SCRIPT = """
for (const table of document.querySelectorAll("table.sortable")) {
  table.tHead.addEventListener("click", event => {
    const th = event.target.closest("th");
    if (!th) return;
    const column = th.cellIndex, numeric = th.classList.contains("num");
    const descending = th.getAttribute("aria-sort") !== "descending";
    for (const cell of th.parentElement.cells) cell.removeAttribute("aria-sort");
    th.setAttribute("aria-sort", descending ? "descending" : "ascending");
    const key = row => row.cells[column].dataset.value ?? row.cells[column].textContent;
    const rows = Array.from(table.tBodies[0].rows).sort((a, b) => {
      const order = numeric ? key(a) - key(b) : key(a).localeCompare(key(b));
      return descending ? -order : order;
    });
    table.tBodies[0].append(...rows);
  });
}
"""


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def render(rows: Sequence[ClassRow], tests: Mapping[str, TestInfo], questions: Sequence[Question] = QUESTIONS) -> str:
    """The report's HTML, by ``questions`` (an assignment's, with its points)."""
    unknown = sorted({row.status for row in rows} - set(STATUSES))
    if unknown:
        raise GraderError(f"class report: rows with the unknown status {', '.join(unknown)} (it knows "
                          f"{', '.join(STATUSES)}); this is a bug in the caller of report.write (grader/batch.py)")
    policy = f"default-src 'none'; style-src {_sha256(STYLE)}; script-src {_sha256(SCRIPT)}"
    body = "\n".join([_header(rows), _distributions(rows, questions), _failed(rows, tests, questions),
                      _not_graded(rows), _slowest(rows), _students(rows, questions)])
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{policy}">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<title>Class report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}\n'
            f'<script>{SCRIPT}</script>\n</body>\n</html>\n')


def write(path: Path, rows: Sequence[ClassRow], tests: Mapping[str, TestInfo],
          questions: Sequence[Question] = QUESTIONS) -> None:
    """Write the report to ``path`` as ``grade.write_json`` writes results: a
    fresh file renamed over ``path``, never through whatever is there."""
    text = render(rows, tests, questions)
    fd, partial = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(partial, 0o644)
        os.replace(partial, path)
    except BaseException:
        os.unlink(partial)
        raise
