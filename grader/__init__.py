"""Needle Kit's grader: handout generation, student bundle, grading."""
