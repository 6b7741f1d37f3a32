"""Every line of every solution region runs in each suite, on the reference:
a line that no test executes is a line a student can get wrong for free.
Each suite runs once under coverage.py (lines and branches), the two in
parallel; the tests then read what ran with coverage's API."""
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

import coverage
import pytest

from grader.defaults import REFERENCE, SUITES
from grader.handout import Region, all_regions

pytestmark = pytest.mark.grading

KIT = Path(__file__).resolve().parent.parent
# Each suite takes under a minute on the reference under coverage; room for a slow, busy machine.
SUITE_TIMEOUT = 1200


@dataclass(frozen=True)
class Unrun:
    """A line of a solution region that its suite never executes, or a
    branch of it that the suite never takes (``text`` says which)."""

    region: Region
    line: int
    text: str


@pytest.fixture(scope="module")
def coverage_data(tmp_path_factory, mnist_dir) -> Dict[str, Path]:
    """Each suite's coverage data file: the suite run on the reference under
    coverage.py, both suites at once (separate processes, separate files)."""
    folder = tmp_path_factory.mktemp("coverage")
    runs = {}
    for suite, tests in SUITES.items():
        data_file = folder / f".coverage.{suite}"
        command = [
            sys.executable, "-m", "coverage", "run", "--branch", f"--data-file={data_file}",
            f"--source={REFERENCE}", "-m", "pytest", "-q", "-p", "no:cacheprovider",
            tests.relative_to(KIT).as_posix(), f"--needle-root={REFERENCE.relative_to(KIT).as_posix()}",
            f"--mnist-dir={mnist_dir}",
        ]
        runs[suite] = (data_file, subprocess.Popen(command, cwd=KIT, stdout=subprocess.PIPE,
                                                   stderr=subprocess.STDOUT, text=True))
    try:
        for suite, (data_file, process) in runs.items():
            output, _ = process.communicate(timeout=SUITE_TIMEOUT)
            # What a failing suite runs says nothing: it must pass on the reference first.
            if process.returncode != 0:
                pytest.fail(f"the {suite} suite fails on the reference under coverage:\n{output[-3000:]}",
                            pytrace=False)
    finally:
        for _, process in runs.values():
            if process.poll() is None:  # a timeout or the other suite's failure: stop this run too
                process.kill()
                process.wait()
    return {suite: data_file for suite, (data_file, _) in runs.items()}


def _unrun_lines(data_file: Path) -> List[Unrun]:
    """The statements strictly between each region's markers that never ran."""
    measured = coverage.Coverage(data_file=str(data_file))
    measured.load()
    unrun = []
    for region in all_regions(REFERENCE):
        path = REFERENCE / region.path
        _, _, _, missing, _ = measured.analysis2(str(path))
        lines = path.read_text(encoding="utf-8").splitlines()
        unrun += [Unrun(region, line, lines[line - 1].strip())
                  for line in sorted(set(missing)) if region.begin < line < region.end]
    return unrun


def _untaken_branches(data_file: Path, report: Path) -> List[Unrun]:
    """The branches from a line strictly between each region's markers that
    never went one of their ways (from coverage's JSON report, which names
    the way: the analysis API gives only counts)."""
    measured = coverage.Coverage(data_file=str(data_file))
    measured.load()
    regions = all_regions(REFERENCE)
    measured.json_report(morfs=sorted({str(REFERENCE / r.path) for r in regions}), outfile=str(report))
    # Its file names are relative to the working folder when under it.
    files = {Path(name).resolve(): info for name, info in json.loads(report.read_text())["files"].items()}
    unrun = []
    for region in regions:
        path = REFERENCE / region.path
        lines = path.read_text(encoding="utf-8").splitlines()
        for source, target in sorted(files[path.resolve()]["missing_branches"]):
            if region.begin < source < region.end:
                # A negative target is the exit of the code object that starts on line -target.
                way = (f"never goes to line {target}: {lines[target - 1].strip()}" if target > 0 else
                       f"never exits from here the code that starts at line {-target}: {lines[-target - 1].strip()}")
                unrun.append(Unrun(region, source, f"{lines[source - 1].strip()} -- {way}"))
    return unrun


def _where(region: Region, line: int) -> str:
    return f"{REFERENCE.name}/{region.path}:{line}"


def _report(suite: str, unrun: List[Unrun], what: str) -> str:
    """The findings grouped by region, with what to do about each."""
    by_region: Dict[Region, List[Unrun]] = {}
    for item in unrun:
        by_region.setdefault(item.region, []).append(item)
    text = [f"the {suite} suite never {what}: {len(unrun)} in {len(by_region)} solution regions:"]
    for region, items in by_region.items():
        text.append(f"  {_where(region, region.begin)}-{region.end} {region.task} (question {region.question.name}):")
        text += [f"    {_where(region, i.line)} {i.text} ({region.task}, {region.question.name})" for i in items]
        text.append(f"    -> add a test to tests_{suite}/test_{region.question.name}.py that takes this path")
    return "\n".join(text)


def test_every_line_of_every_solution_region_runs_in_the_public_suite(coverage_data):
    unrun = _unrun_lines(coverage_data["public"])
    if unrun:
        pytest.fail(_report("public", unrun, "executes these lines"), pytrace=False)


def test_every_line_of_every_solution_region_runs_in_the_hidden_suite(coverage_data):
    unrun = _unrun_lines(coverage_data["hidden"])
    if unrun:
        pytest.fail(_report("hidden", unrun, "executes these lines"), pytrace=False)


def test_every_branch_in_every_solution_region_goes_each_way_in_both_suites(coverage_data, tmp_path):
    """Lines are the acceptance; a branch taken one way only (an ``if`` never
    false) is a path no test checks either."""
    reports = [_report(suite, unrun, "takes these branches both ways")
               for suite, data_file in coverage_data.items()
               for unrun in [_untaken_branches(data_file, tmp_path / f"{suite}.json")] if unrun]
    if reports:
        pytest.fail("\n".join(reports), pytrace=False)
