"""The untouched handout fails every public test, each with the TODO of its
own question: the public suite is isolated per question."""
import json
import subprocess
import sys
from pathlib import Path

from grader.questions import QUESTIONS

KIT = Path(__file__).resolve().parent.parent


def _crash_message(test):
    for phase in ("setup", "call", "teardown"):
        if test.get(phase, {}).get("outcome") == "failed":
            return test[phase].get("crash", {}).get("message", test[phase].get("longrepr", ""))
    return ""


def test_each_public_test_fails_on_the_handout_with_its_own_question(tmp_path, mnist_dir):
    report = tmp_path / "report.json"
    subprocess.run(
        [
            sys.executable, "-m", "pytest", "tests_public", "-q", "-p", "no:cacheprovider",
            "--needle-root=handout", f"--mnist-dir={mnist_dir}",
            "--json-report", f"--json-report-file={report}",
        ],
        cwd=KIT, capture_output=True, text=True, timeout=600,
    )
    tests = json.loads(report.read_text())["tests"]
    by_file = {q.public_tests: q.name for q in QUESTIONS}
    assert {t["nodeid"].split("::")[0] for t in tests} == set(by_file), "a public test file outside the questions"
    wrong = []
    for test in tests:
        question = by_file[test["nodeid"].split("::")[0]]
        message = _crash_message(test)
        if test["outcome"] != "failed" or f"NotImplementedError: TODO (question {question})" not in message:
            wrong.append(f"{test['nodeid']}: {test['outcome']}: {message.splitlines()[0] if message else ''}")
    assert not wrong, (
        f"{len(wrong)} of {len(tests)} public tests do not fail on the handout with their own "
        f"question's TODO:\n  " + "\n  ".join(wrong[:40])
    )
