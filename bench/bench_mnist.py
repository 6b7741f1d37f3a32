"""How much slower Needle trains on MNIST than hand-written NumPy.

Trains softmax regression and the two-layer ReLU network with a Needle
implementation (``apps/simple_ml.py``) and with plain NumPy doing the same
float32 math, in one process, epochs alternating (Needle, NumPy, Needle, ...)
so that both see the same machine load.  Prints the ratio of median epoch
times (Needle / NumPy) and both models' test errors.

    python bench/bench_mnist.py --data-dir /path/to/mnist [--threads 1]

NumPy is imported only after the arguments are parsed, so that ``--threads``
can set the BLAS thread count before the BLAS library loads.
"""
import argparse
import json
import math
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
LR, BATCH, HIDDEN = 0.2, 100, 100
# The acceptance targets for median(Needle epoch) / median(NumPy epoch).
TARGETS = {"softmax": 3.0, "nn": 1.5}
MODEL_NAMES = {"softmax": "softmax regression", "nn": f"two-layer net (hidden {HIDDEN})"}

np = None  # numpy, imported by main() once the thread count is set
ndl = simple_ml = None  # needle and its apps/simple_ml, imported by main()


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--needle-root", metavar="DIR", default="reference",
                        help="implementation root holding needle/ and apps/, relative to "
                             "the repository root (default: %(default)s)")
    parser.add_argument("--data-dir", metavar="DIR", default="data/mnist",
                        help="folder with the four MNIST .gz files, relative to the "
                             "repository root (default: %(default)s)")
    parser.add_argument("--model", choices=("softmax", "nn", "both"), default="both")
    parser.add_argument("--epochs", metavar="N", type=int, default=10,
                        help="epochs per model and implementation (default: %(default)s)")
    parser.add_argument("--threads", metavar="N", type=int,
                        help="BLAS/OpenMP threads (default: the libraries' own choice)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be at least 1")
    return args


def import_libraries(needle_root):
    """Import numpy, then needle and simple_ml from ``needle_root`` the way the
    test suites do (root and root/apps first on sys.path)."""
    global np, ndl, simple_ml
    for required in ("needle/__init__.py", "apps/simple_ml.py"):
        if not (needle_root / required).is_file():
            raise SystemExit(f"error: --needle-root {needle_root}: no {required} there")
    for path in (needle_root / "apps", needle_root):
        sys.path.insert(0, str(path))
    import numpy
    import needle
    import simple_ml as apps_simple_ml
    np, ndl, simple_ml = numpy, needle, apps_simple_ml


# --- Hand-written NumPy baselines ------------------------------------------

def softmax_minus_labels(Z, y):
    """Turn logits Z into softmax(Z) - onehot(y), in place (row max subtracted
    first so that exp cannot overflow)."""
    Z -= Z.max(axis=1, keepdims=True)
    np.exp(Z, out=Z)
    Z /= Z.sum(axis=1, keepdims=True)
    Z[np.arange(len(y)), y] -= 1
    return Z


def numpy_softmax_epoch(X, y, theta, lr, batch):
    """One SGD epoch of softmax regression, updating theta in place."""
    for start in range(0, len(X), batch):
        X_b, y_b = X[start:start + batch], y[start:start + batch]
        G = softmax_minus_labels(X_b @ theta, y_b)
        G *= lr / len(y_b)  # fold lr/m into the small (m, k) array, not theta
        theta -= X_b.T @ G


def numpy_nn_epoch(X, y, W1, W2, lr, batch):
    """One SGD epoch of logits = relu(X W1) W2, updating W1 and W2 in place."""
    for start in range(0, len(X), batch):
        X_b, y_b = X[start:start + batch], y[start:start + batch]
        H = X_b @ W1
        np.maximum(H, 0, out=H)
        G2 = softmax_minus_labels(H @ W2, y_b)
        G2 *= lr / len(y_b)  # lr/m carries through to G1 as well
        G1 = G2 @ W2.T
        G1 *= H > 0
        # Both gradients use the old W2, so take them before either update.
        W2 -= H.T @ G2
        W1 -= X_b.T @ G1


def numpy_error(logits, y):
    return float(np.mean(logits.argmax(axis=1) != y))


# --- The two models, each as (Needle, NumPy) pairs of the same step ----------

def initial_weights(model, n, k):
    """Float32 starting weights, as simple_ml.train_softmax / train_nn draw them."""
    if model == "softmax":
        return [np.zeros((n, k), dtype=np.float32)]
    np.random.seed(0)
    # Divide by a Python float: a float64 NumPy scalar would promote to float64.
    W1 = np.random.randn(n, HIDDEN).astype(np.float32) / math.sqrt(HIDDEN)
    W2 = np.random.randn(HIDDEN, k).astype(np.float32) / math.sqrt(k)
    return [W1, W2]


def needle_epoch(model, X, y, weights):
    if model == "softmax":
        return [simple_ml.softmax_regression_epoch(X, y, weights[0], lr=LR, batch=BATCH)]
    return list(simple_ml.nn_epoch(X, y, *weights, lr=LR, batch=BATCH))


def numpy_epoch(model, X, y, weights):
    if model == "softmax":
        numpy_softmax_epoch(X, y, *weights, lr=LR, batch=BATCH)
    else:
        numpy_nn_epoch(X, y, *weights, lr=LR, batch=BATCH)
    return weights


def needle_test_error(model, X, y, weights):
    """The error as the app reports it: simple_ml.loss_err on Needle logits."""
    X_t = ndl.Tensor.make_const(X)
    if model == "softmax":
        logits = X_t @ weights[0]
    else:
        logits = ndl.relu(X_t @ weights[0]) @ weights[1]
    return simple_ml.loss_err(logits, y)[1]


def numpy_test_error(model, X, y, weights):
    if model == "softmax":
        return numpy_error(X @ weights[0], y)
    return numpy_error(np.maximum(X @ weights[0], 0) @ weights[1], y)


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def bench_model(model, data, epochs):
    """Train both implementations from the same weights, epochs alternating,
    and return their epoch times, test errors and how far the weights drifted."""
    X_tr, y_tr, X_te, y_te = data
    start = initial_weights(model, X_tr.shape[1], int(y_tr.max()) + 1)
    needle_weights = [ndl.Tensor(w.copy()) for w in start]
    numpy_weights = [w.copy() for w in start]
    needle_times, numpy_times = [], []
    for epoch in range(epochs):
        needle_weights, seconds = timed(needle_epoch, model, X_tr, y_tr, needle_weights)
        needle_times.append(seconds)
        numpy_weights, seconds = timed(numpy_epoch, model, X_tr, y_tr, numpy_weights)
        numpy_times.append(seconds)
        print(f"  {model} epoch {epoch + 1}/{epochs}: needle {needle_times[-1]:.3f} s, "
              f"numpy {numpy_times[-1]:.3f} s", flush=True)
    needle_median, numpy_median = statistics.median(needle_times), statistics.median(numpy_times)
    ratio = needle_median / numpy_median
    needle_err = needle_test_error(model, X_te, y_te, needle_weights)
    numpy_err = numpy_test_error(model, X_te, y_te, numpy_weights)
    return {
        "model": model,
        "epochs": epochs,
        "needle_epoch_s": needle_times,
        "numpy_epoch_s": numpy_times,
        "needle_median_s": needle_median,
        "numpy_median_s": numpy_median,
        "ratio": ratio,
        "target": TARGETS[model],
        "meets_target": ratio <= TARGETS[model],
        "needle_test_err": needle_err,
        "numpy_test_err": numpy_err,
        "test_err_diff": needle_err - numpy_err,
        # Same math in float32: only rounding (op order) should separate them.
        "max_abs_weight_diff": max(float(np.max(np.abs(a.numpy() - b)))
                                   for a, b in zip(needle_weights, numpy_weights)),
    }


# --- Reporting ----------------------------------------------------------------

def blas_info():
    """The BLAS library and its thread count, via threadpoolctl if installed;
    else the library NumPy was built with and the thread variables."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return {"library": numpy_build_blas(), "num_threads": "unknown (no threadpoolctl)",
                **{name: os.environ[name] for name in THREAD_VARIABLES if name in os.environ}}
    return [{key: pool.get(key) for key in ("internal_api", "version", "num_threads", "filepath")}
            for pool in threadpool_info() if pool.get("user_api") == "blas"]


def numpy_build_blas():
    try:  # show_config(mode="dicts") is NumPy >= 1.25
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas['name']} {blas.get('version', '')}".strip()
    except Exception:  # only informative: never fail the benchmark over it
        return "unknown"


def print_table(results):
    columns = ("model", "epochs", "needle median s", "numpy median s", "ratio",
               "needle test err", "numpy test err", "target")
    rows = [(MODEL_NAMES[r["model"]], str(r["epochs"]), f"{r['needle_median_s']:.3f}",
             f"{r['numpy_median_s']:.3f}", f"{r['ratio']:.2f}", f"{r['needle_test_err']:.4f}",
             f"{r['numpy_test_err']:.4f}",
             f"<= {r['target']} {'ok' if r['meets_target'] else 'MISSED'}")
            for r in results]
    widths = [max(len(cell) for cell in column) for column in zip(columns, *rows)]
    for row in (columns, *rows):
        print(" | ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    for r in results:
        print(f"{MODEL_NAMES[r['model']]}: test error needle - numpy = "
              f"{r['test_err_diff']:+.4f}, max |weight difference| = "
              f"{r['max_abs_weight_diff']:.2e}")


def peak_rss_mib():
    # ru_maxrss is in KiB on Linux but in bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 2**10)


def main(argv=None):
    args = parse_args(argv)
    if args.threads is not None:
        for name in THREAD_VARIABLES:
            os.environ[name] = str(args.threads)
    needle_root = (REPO_ROOT / args.needle_root).resolve()
    data_dir = (REPO_ROOT / args.data_dir).resolve()
    import_libraries(needle_root)
    try:
        data = simple_ml.load_mnist(data_dir)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1

    blas = blas_info()
    print(f"needle root: {needle_root}\nnumpy {np.__version__}, python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, BLAS: {blas}", flush=True)
    models = ("softmax", "nn") if args.model == "both" else (args.model,)
    start = time.perf_counter()
    results = [bench_model(model, data, args.epochs) for model in models]
    runtime = time.perf_counter() - start
    print()
    print_table(results)
    rss = peak_rss_mib()
    print(f"\nbenchmark time {runtime:.1f} s (training and test errors), peak RSS {rss:.0f} MiB")

    if args.json:
        report = {"needle_root": str(needle_root), "threads": args.threads,
                  "numpy": np.__version__, "python": platform.python_version(),
                  "cpus": os.cpu_count(), "blas": blas, "runtime_s": runtime,
                  "peak_rss_mib": rss, "results": results}
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
