"""The graded questions: every student task (a solution region in
``reference/``) belongs to exactly one, and the points add up to 100.
A question has at least as many points as it has units a bug can break
alone (an op, a module, a function), so that each is worth a point or
more (``python -m grader points`` shows the split).

A question's public tests are ``tests_public/test_<name>.py``; its tasks are
the solution regions whose enclosing function matches one of ``tasks``
(``fnmatch`` patterns on ``path/inside/the/root.py::Qualified.name``).
"""
from dataclasses import dataclass
from typing import Tuple


@dataclass(frozen=True)
class Question:
    name: str
    title: str
    points: int
    tasks: Tuple[str, ...]

    @property
    def public_tests(self) -> str:
        return f"tests_public/test_{self.name}.py"


QUESTIONS: Tuple[Question, ...] = (
    Question("forward_ops", "Forward computation of the operators", 15,
             ("needle/ops/*.py::*.compute",)),
    Question("backward_ops", "Gradients of the operators", 15,
             ("needle/ops/*.py::*.gradient",)),
    Question("topo_sort", "Topological sort", 6,
             ("needle/autograd.py::find_topo_sort", "needle/autograd.py::topo_sort_dfs")),
    Question("reverse_ad", "Reverse-mode automatic differentiation", 10,
             ("needle/autograd.py::compute_gradient_of_variables",)),
    Question("parse_mnist", "Reading MNIST", 3,
             ("apps/simple_ml.py::parse_mnist",)),
    Question("softmax_loss", "Softmax loss", 4,
             ("apps/simple_ml.py::softmax_loss",)),
    Question("nn_epoch", "SGD epochs for softmax regression and a two-layer network", 8,
             ("apps/simple_ml.py::softmax_regression_epoch", "apps/simple_ml.py::nn_epoch",
              "apps/simple_ml.py::_sgd_step")),
    Question("initializers", "Weight initializers", 5,
             ("needle/init/init_initializers.py::*",)),
    Question("modules", "nn modules", 12,
             ("needle/nn/*.py::*",)),
    Question("optimizers", "SGD and Adam", 10,
             ("needle/optim.py::*",)),
    Question("data", "Transforms, datasets and the DataLoader", 5,
             ("needle/data/*.py::*",)),
    Question("mlp_resnet", "MLP ResNet and its training loop", 7,
             ("apps/mlp_resnet.py::*",)),
)

TOTAL_POINTS = 100
assert sum(q.points for q in QUESTIONS) == TOTAL_POINTS, "question points must add up to 100"
BY_NAME = {q.name: q for q in QUESTIONS}
