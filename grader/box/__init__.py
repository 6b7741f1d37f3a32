"""The box side of the trust boundary: what the suites import, run inside
the grader's sandbox (and on students' machines).  It drives the code under
test and hands over what came out; it holds no expected value of any kind.
Nothing outside this folder imports from it but the suites and the kit's
own conftest.py."""
