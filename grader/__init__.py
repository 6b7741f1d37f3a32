"""Needle Kit's grader: handout generation, student bundle, grading.

``grader/box/`` is the box side of the trust boundary (what runs with
student code); every other module decides, and imports nothing from it.
This file, ``channel.py`` and ``box/`` are all that a grading box receives
of the grader."""
