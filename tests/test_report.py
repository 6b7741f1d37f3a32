"""The class report (grader/report.py), from a synthetic class: what its
plots count, what it ranks, that student strings stay text, that it needs
nothing from outside the file, and (``-m browser``) that a real browser draws
it without an error or a request."""
import base64
import html
import random
import re
import shutil
import statistics
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

from grader import report
from grader.errors import GraderError
from grader.questions import QUESTIONS, TOTAL_POINTS
from grader.report import ClassRow, TestInfo

TOPO = "hidden:tests_hidden/test_topo_sort.py::test_topo_sort_visits_inputs_first[chain]"
EXP = "public:tests_public/test_forward_ops.py::test_exp_forward[2x3]"
ADAM = "hidden:tests_hidden/test_optimizers.py::test_adam_bias_correction[3]"
GONE = "public:tests_public/test_data.py::test_removed_since"  # not in the key
TESTS = {
    TOPO: TestInfo("topo_sort", "hidden", "test_topo_sort_visits_inputs_first[chain]", "inputs come before the node"),
    EXP: TestInfo("forward_ops", "public", "test_exp_forward[2x3]", "elementwise <b>exp</b>"),
    ADAM: TestInfo("optimizers", "hidden", "test_adam_bias_correction[3]", "bias correction uses t"),
}
SCRIPT_NAME = '<script>alert("name")</script>'
SCRIPT_MESSAGE = 'Your submission could not be graded: <script>alert("message")</script> has no needle/ folder'


def _graded(student, fractions, failed=(), seconds=10.0):
    """A graded row with ``fractions[i]`` of question i's points."""
    points = {q.name: q.points * f for q, f in zip(QUESTIONS, fractions)}
    return ClassRow(student, "graded", sum(points.values()), points, tuple(failed), seconds, "")


N = len(QUESTIONS)
CLASS = (
    _graded("ada", [1.0] * N, seconds=40.0),
    _graded("bob", [0.55] * N, failed=(TOPO, EXP), seconds=95.0),
    _graded("cy", [1.0] * (N // 2) + [0.0] * (N - N // 2), failed=(TOPO, EXP, ADAM), seconds=120.5),
    _graded("dee", [0.0] * N, failed=(TOPO, GONE), seconds=15.0),
    # Mid-bin points (edges: test_histogram_puts_a_value_in_the_bin_it_means).
    *(_graded(f"s{i:02}", [(i + 0.5) / 10] * N, failed=(TOPO,) * (i < 5), seconds=7.0 * i) for i in range(1, 9)),
    # Failures of students not graded count nowhere.
    ClassRow(SCRIPT_NAME, "ungradable", 0.0, {}, (ADAM,), 0.5, SCRIPT_MESSAGE),
    ClassRow("gus", "crashed", 0.0, {}, (), 3.0, "the grader failed on this submission; ask your instructor."),
    ClassRow("hal", "missing", 0.0, {}, (), 0.0, "no submission"),
)


class _Page(HTMLParser):
    """What the tests read from the report: each plot's bars, each table's
    rows (the cells' text and the rows' attributes), the status counts."""

    def __init__(self, text):
        super().__init__()
        self.plots = {}  # aria-label -> [(low, high, count)]
        self.tables = {}  # class -> [(row attributes, [cell text])]
        self.stats = {}
        self._plot = self._table = self._row = self._cell = self._stat = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg":
            self._plot = self.plots.setdefault(a["aria-label"], [])
        elif tag == "rect" and "bar" in a.get("class", "").split():
            self._plot.append((float(a["data-low"]), float(a["data-high"]), int(a["data-count"])))
        elif tag == "table":
            self._table = []
            for name in a["class"].split():
                self.tables[name] = self._table
        elif tag == "tr" and self._table is not None:
            self._row = (a, [])
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "div" and "stat" in a.get("class", "").split():
            self._stat = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row[1].append("".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self._table.append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "div" and self._stat is not None:
            count, status = "".join(self._stat).split()
            self.stats[status] = int(count)
            self._stat = None

    def handle_data(self, data):
        for text in (self._cell, self._stat):
            if text is not None:
                text.append(data)

    def body_rows(self, table):
        return self.tables[table][1:]  # less the header


@pytest.fixture(scope="module")
def parsed():
    return _Page(report.render(CLASS, TESTS))


def _count_in(values, low, high, top):
    return sum(low <= v < high or (high == top and v == top) for v in values)


def _expected_bars(values, top):
    """(low, high, count) of each bin, flat, for pytest.approx."""
    return [x for i in range(10) for x in (top * i / 10, top * (i + 1) / 10,
                                          _count_in(values, top * i / 10, top * (i + 1) / 10, top))]


def _flat(bars):
    return [x for bar in bars for x in bar]


def test_totals_histogram_counts_graded_and_ungradable_students_in_bins_of_ten(parsed):
    scored = [row.total for row in CLASS if row.status in ("graded", "ungradable")]
    bars = parsed.plots["Totals of the class"]
    assert [(low, high) for low, high, _ in bars] == [(i, i + 10) for i in range(0, TOTAL_POINTS, 10)]
    assert _flat(bars) == pytest.approx(_expected_bars(scored, TOTAL_POINTS))
    assert sum(count for _, _, count in bars) == len(scored)


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q.name)
def test_each_question_has_a_histogram_of_its_graded_students_points(parsed, question):
    points = [row.points[question.name] for row in CLASS if row.status == "graded"]
    bars = parsed.plots[f"Points on {question.name}"]
    assert _flat(bars) == pytest.approx(_expected_bars(points, question.points), abs=0.005)


@pytest.mark.parametrize("values, top, bin_low", [
    ([100.0], 100, 90),  # full marks in the last bin
    ([0.0], 100, 0),
    ([20.0], 100, 20),  # an edge opens its bin
    ([sum([0.1] * 8)], 1, 0.8),  # 0.7999999999999999: eight tenths
    ([sum([5 / 15] * 6)], 5, 2.0),  # 1.9999999999999998: 6 of 15 tests of a 5-point question
], ids=["full-marks", "zero", "edge", "eight-tenths", "six-fifteenths"])
def test_histogram_puts_a_value_in_the_bin_it_means(values, top, bin_low):
    bins = report.histogram(values, top)
    assert [b.count for b in bins if b.count] == [1]
    assert next(b.low for b in bins if b.count) == pytest.approx(bin_low)


def test_most_failed_tests_are_ranked_by_how_many_graded_students_failed_them(parsed):
    counts = Counter(test for row in CLASS if row.status == "graded" for test in row.failed)
    rows = parsed.body_rows("most-failed")
    shown = [int(attrs["data-count"]) for attrs, _ in rows]
    assert shown == sorted(shown, reverse=True)
    assert sorted(shown) == sorted(counts.values())
    graded = sum(row.status == "graded" for row in CLASS)
    question, suite, name, hint, count, share = rows[0][1]
    assert (question, suite, name, hint) == ("topo_sort", "hidden", TESTS[TOPO].name, TESTS[TOPO].hint)
    assert (int(count), share) == (counts[TOPO], f"{counts[TOPO] / graded:.0%}")
    assert any(cells[2] == "test_removed_since" and cells[3] == "(not in the answer key)" for _, cells in rows)


def test_most_failed_keeps_the_top_twenty():
    tests = [f"hidden:tests_hidden/test_modules.py::test_m[{i}]" for i in range(25)]
    # Test i is failed by i + 1 students.
    rows = [_graded(f"st{n}", [0.0] * N, failed=tests[n:]) for n in range(25)]
    top = report.most_failed(rows, {})
    assert [t.count for t in top] == list(range(25, 5, -1))
    assert top[0].test_id == tests[-1] and top[0].share == 1.0


def test_student_names_and_messages_are_escaped():
    text = report.render(CLASS, TESTS)
    assert text.count("<script") == 1  # the report's own sorting script
    for student_text in (SCRIPT_NAME, SCRIPT_MESSAGE):
        assert html.escape(student_text) in text
    assert "elementwise &lt;b&gt;exp&lt;/b&gt;" in text


def test_the_report_references_nothing_outside_the_file():
    text = report.render(CLASS, TESTS)
    assert not re.search(r"(?i)https?:|\b(src|href)\s*=|url\(|@import", text)


def test_same_class_gives_the_same_bytes_in_any_order(tmp_path):
    shuffled = list(CLASS)
    random.Random(1).shuffle(shuffled)
    shuffled = [ClassRow(r.student, r.status, r.total, dict(reversed(r.points.items())), r.failed[::-1], r.seconds,
                         r.message) for r in shuffled]
    first, second = tmp_path / "first.html", tmp_path / "second.html"
    report.write(first, CLASS, TESTS)
    report.write(second, shuffled, dict(reversed(TESTS.items())))
    assert first.read_bytes() == second.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first.html", "second.html"]  # no partial file left


def test_header_counts_every_status_and_gives_mean_and_median(parsed):
    assert parsed.stats == {status: sum(row.status == status for row in CLASS) for status in report.STATUSES}
    scored = [row.total for row in CLASS if row.status in ("graded", "ungradable")]
    lead = report.render(CLASS, TESTS).split('<p class="lead">')[1].split("</p>")[0]
    assert f"<b>{len(CLASS)}</b> students" in lead
    assert f"mean {round(statistics.mean(scored), 2):g}, median {round(statistics.median(scored), 2):g}" in lead


def test_not_graded_lists_every_student_not_graded_with_why(parsed):
    shown = {cells[0]: (cells[1], cells[2]) for _, cells in parsed.body_rows("not-graded")}
    assert shown == {row.student: (row.status, row.message) for row in CLASS if row.status != "graded"}


def test_slowest_lists_the_ten_longest_gradings_longest_first(parsed):
    ran = sorted((row for row in CLASS if row.status != "missing"), key=lambda row: -row.seconds)
    shown = [(cells[0], float(cells[2])) for _, cells in parsed.body_rows("slowest")]
    assert shown == [(row.student, row.seconds) for row in ran[:10]]


def test_every_student_has_a_row_with_each_questions_points(parsed):
    rows = {cells[0]: cells for _, cells in parsed.body_rows("students")}
    assert sorted(rows) == sorted(row.student for row in CLASS)
    for row in CLASS:
        cells = rows[row.student]
        assert cells[1] == row.status
        if row.status == "graded":
            assert [float(c) for c in cells[2:]] == pytest.approx(
                [row.total, *(row.points[q.name] for q in QUESTIONS)], abs=0.005)
        else:
            assert cells[3:] == [""] * N


def test_a_class_with_nobody_graded_still_gives_a_page():
    empty = _Page(report.render([ClassRow("hal", "missing", 0.0, {}, (), 0.0, "no submission")], {}))
    assert empty.stats["missing"] == 1 and empty.stats["graded"] == 0
    assert all(count == 0 for bars in empty.plots.values() for _, _, count in bars)
    assert [cells[0] for _, cells in empty.body_rows("not-graded")] == ["hal"]


def test_a_row_of_unknown_status_is_refused():
    with pytest.raises(GraderError, match="unknown status late"):
        report.render([ClassRow("ada", "late", 0.0, {}, (), 1.0, "")], {})


# -- In a real browser --------------------------------------------------------

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
BAR_COLOUR = (0x4a, 0x7e, 0xbb)  # svg .bar's fill in report.STYLE

# How many colours the screenshot has and whether it has the bars' (RGBA
# bytes read as one little-endian number), decoded by the browser itself in a
# page of its own.
COLOURS = """async ([png, bar]) => {
  const image = new Image();
  image.src = "data:image/png;base64," + png;
  await image.decode();
  const canvas = document.createElement("canvas");
  [canvas.width, canvas.height] = [image.width, image.height];
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0);
  const pixels = new Uint32Array(context.getImageData(0, 0, image.width, image.height).data.buffer);
  const colours = new Set(pixels);
  return [colours.size, colours.has(bar)];
}"""


def _chromium() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    assert Path(path).exists(), ("no Chromium: the browser test uses Debian's; install it with "
                                 "`apt-get install chromium` (playwright's own download is not used)")
    return path


@pytest.mark.browser
def test_report_renders_in_headless_chromium_offline_without_errors(tmp_path):
    from playwright.sync_api import sync_playwright  # here: the quick tests run without it

    path = tmp_path / "report.html"
    report.write(path, CLASS, TESTS)
    url = path.as_uri()
    problems = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda m: m.type == "error" and problems.append(f"console error: {m.text}"))
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.on("request", lambda r: r.url != url and problems.append(f"request: {r.url}"))
            page.goto(url, wait_until="load")

            plots = page.locator("svg.plot").all()
            assert len(plots) == 1 + N
            for plot in plots:
                label = plot.get_attribute("aria-label")
                box = plot.bounding_box()
                assert box and box["width"] > 0 and box["height"] > 0, label
                for bar in plot.locator("rect.bar").all():
                    if int(bar.get_attribute("data-count")):
                        bar_box = bar.bounding_box()
                        assert bar_box and bar_box["height"] > 0 and bar_box["width"] > 0, label

            # The sorting script runs under the page's policy: by total, highest first.
            page.locator("table.students th", has_text="total").click()
            totals = page.locator("table.students tbody tr td:nth-child(3)").evaluate_all(
                "cells => cells.map(cell => Number(cell.dataset.value))")
            assert totals == sorted(totals, reverse=True) and totals[0] == TOTAL_POINTS

            png = page.screenshot(path=tmp_path / "report.png", full_page=True)
            decoder = browser.new_page()
            r, g, b = BAR_COLOUR
            colours, has_bars = decoder.evaluate(COLOURS, [base64.b64encode(png).decode(),
                                                           255 << 24 | b << 16 | g << 8 | r])
        finally:
            browser.close()
    assert not problems, "\n".join(problems)
    assert colours > 1, "the screenshot is blank"
    assert has_bars, "no plot's bar on the screenshot"
