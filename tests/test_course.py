"""grader/course.toml: the course's questions and assignments, and the
errors that say what is wrong in it."""
import pytest

from grader.course import COURSE_FILE, load
from grader.errors import CourseError
from grader.handout import find_regions, handout_files
from grader.questions import COURSE, QUESTIONS
from tests.grading import KIT

SHIPPED = COURSE_FILE.read_text(encoding="utf-8")


def test_the_default_course_has_hw1_hw2_and_all_of_100_points_each():
    assert [a.name for a in COURSE.assignments] == ["hw1", "hw2", "all"]
    assert all(a.total == 100 for a in COURSE.assignments)
    hw1, hw2, every = (COURSE.assignment(n) for n in ("hw1", "hw2", "all"))
    assert [q.name for q in hw1.questions] == ["forward_ops", "backward_ops", "topo_sort", "reverse_ad",
                                               "parse_mnist", "softmax_loss", "nn_epoch"]
    assert [q.name for q in hw2.questions] == ["initializers", "modules", "optimizers", "data", "mlp_resnet"]
    assert [q.name for q in every.questions] == [q.name for q in COURSE.questions] == [q.name for q in QUESTIONS]
    assert (hw1.earlier, hw2.earlier, every.earlier) == ((), tuple(q for q in COURSE.questions[:7]), ())


def test_every_solution_region_belongs_to_a_question_of_each_assignment_that_grades_it():
    """Each region is one question's; every question is in hw1 or hw2."""
    regions = [r for path in handout_files(KIT / "reference")
               for r in find_regions(path, (KIT / "reference" / path).read_text(encoding="utf-8"))]
    owned = {r.question.name for r in regions}
    assert owned == {q.name for q in COURSE.questions}
    split = {q.name for a in ("hw1", "hw2") for q in COURSE.assignment(a).questions}
    assert split == owned


def test_asking_for_an_assignment_the_course_lacks_names_the_ones_it_has():
    with pytest.raises(CourseError, match=r"no assignment 'hw3' in grader/course.toml; the assignments are "
                                          r"hw1, hw2, all"):
        COURSE.assignment("hw3")


BROKEN = {
    "not-toml": (("[[assignments]]\nname = ", "[[assignments]]\nname = = "), "is not valid TOML"),
    "unknown-question": (("forward_ops = 25,", "forward_op = 25,"), "assignment hw1: no question forward_op"),
    "points-not-100": (("forward_ops = 25,", "forward_ops = 24,"), "hw1: its points add up to 99, not 100"),
    "points-not-whole": (("topo_sort = 10, reverse_ad = 16", "topo_sort = 9.5, reverse_ad = 16.5"),
                         "points are whole numbers of 1 or more (topo_sort = 9.5, reverse_ad = 16.5)"),
    "zero-points": (("topo_sort = 10, reverse_ad = 16", "topo_sort = 0, reverse_ad = 26"),
                    "points are whole numbers of 1 or more (topo_sort = 0)"),
    "bad-carry": (('carry = "solutions"', 'carry = "reference"'),
                  "assignment hw2: carry = 'reference'; it is one of 'students', 'solutions'"),
    "unknown-key": (('carry = "solutions"', 'cary = "solutions"'),
                    "assignment hw2: unknown key(s) cary; the keys are name, title, points, carry"),
    "no-tasks": (('tasks = ["needle/optim.py::*"]', "tasks = []"), "question optimizers needs tasks"),
    "duplicate-name": (('name = "hw2"', 'name = "hw1"'), "two assignments are named hw1"),
    "no-default": (('name = "all"', 'name = "everything"'), "no assignment 'all'"),
}


@pytest.mark.parametrize("edit, says", BROKEN.values(), ids=BROKEN.keys())
def test_a_broken_course_file_says_what_is_wrong_and_where(tmp_path, edit, says):
    old, new = edit
    assert old in SHIPPED
    path = tmp_path / "course.toml"
    path.write_text(SHIPPED.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(CourseError) as raised:
        load(path)
    assert str(raised.value).startswith(str(path)) and says in str(raised.value), str(raised.value)


def test_all_must_hold_every_question(tmp_path):
    path = tmp_path / "course.toml"
    path.write_text(SHIPPED.replace("data = 5, mlp_resnet = 7 }", "data = 12 }"), encoding="utf-8")
    with pytest.raises(CourseError, match="assignment 'all' lacks mlp_resnet"):
        load(path)


def test_points_given_to_a_question_say_where_points_go(tmp_path):
    path = tmp_path / "course.toml"
    path.write_text(SHIPPED.replace('title = "Topological sort"', 'title = "Topological sort"\npoints = 6'),
                    encoding="utf-8")
    with pytest.raises(CourseError, match=r"points belong to assignments: points = \{ topo_sort = \.\.\. \}"):
        load(path)


def test_all_listed_first_is_no_earlier_assignment_of_the_others(tmp_path):
    blocks = SHIPPED.split("[[assignments]]")
    path = tmp_path / "course.toml"
    path.write_text(blocks[0] + "[[assignments]]" + blocks[3] + "\n[[assignments]]" + blocks[1] + "[[assignments]]"
                    + blocks[2], encoding="utf-8")
    course = load(path)
    assert [a.name for a in course.assignments] == ["all", "hw1", "hw2"]
    assert course.assignment("hw1").earlier == () and len(course.assignment("hw2").earlier) == 7


def test_a_question_in_no_assignment_is_named_as_missing_from_all(tmp_path):
    path = tmp_path / "course.toml"
    path.write_text(SHIPPED + '\n[questions.extra]\ntitle = "An extra"\ntasks = ["apps/x.py::f"]\n',
                    encoding="utf-8")
    with pytest.raises(CourseError, match="assignment 'all' lacks extra; it holds every question"):
        load(path)


def test_only_solutions_carried_release_the_earlier_questions(tmp_path):
    hw1, hw2 = COURSE.assignment("hw1"), COURSE.assignment("hw2")
    assert hw2.carry == "solutions" and hw2.released == hw2.earlier and hw1.released == ()
    path = tmp_path / "course.toml"
    path.write_text(SHIPPED.replace('carry = "solutions"', 'carry = "students"'), encoding="utf-8")
    students = load(path).assignment("hw2")
    assert students.carry == "students" and students.released == () and students.earlier == hw2.earlier


def test_an_assignments_audit_takes_the_bugs_of_its_questions_and_refuses_others():
    from grader import audit
    from tests.bugs import BUGS

    hw2 = COURSE.assignment("hw2")
    own = {q.name for q in hw2.questions}
    assert [b.name for b in audit.select(None, hw2)] == [b.name for b in BUGS if b.question in own]
    with pytest.raises(ValueError, match=r"power_scalar_multiplies \(forward_ops\) are of questions that hw2 "
                                         r"does not grade"):
        audit.select(["power_scalar_multiplies"], hw2)
