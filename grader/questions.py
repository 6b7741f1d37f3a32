"""The graded questions of the default assignment (every question, as
declared in grader/course.toml): every student task (a solution region in
``reference/``) belongs to exactly one, and the points add up to 100.
A question has at least as many points as it has units a bug can break
alone (an op, a module, a function), so that each is worth a point or
more (``python -m grader points`` shows the split).
"""
from .course import DEFAULT_ASSIGNMENT, Question, load

COURSE = load()
QUESTIONS = COURSE.assignment(DEFAULT_ASSIGNMENT).questions
TOTAL_POINTS = sum(q.points for q in QUESTIONS)
BY_NAME = {q.name: q for q in QUESTIONS}

__all__ = ["COURSE", "QUESTIONS", "TOTAL_POINTS", "BY_NAME", "Question"]
