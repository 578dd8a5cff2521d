"""The embedded benchmark is the same bytes on every machine: a second machine played here, and a scan for kernels.

``test_tasks_same_bytes_with_simd_dispatch_lowered`` generates every default embedded task in a subprocess whose
torch, numpy, OpenBLAS, MKL and oneDNN run their lowest SIMD level (what an older x86-64 CPU, or another build,
would run) and compares the hashes with the committed pins (``harness/data/pins.py``). The scan checks
that the generators call only what ``harness.data.exact`` allows, so a change that would differ on another CPU or
library release fails here even on a machine where it happens to give the same bytes.
"""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.data.pins import DATA_SHA256

DATA = Path(__file__).resolve().parents[3] / "harness" / "data"
GENERATORS = ("digits", "digit_render", "digit_strokes", "scenes", "scene_render", "maps", "probe", "faces",
              "face_render", "sr", "sr_pairs", "imresize", "exact")
# numpy functions whose results are not exactly specified (SIMD/SVML/libm/BLAS dependent, or reorderable sums)
NUMPY_FORBIDDEN = {"sin", "cos", "tan", "arcsin", "arccos", "arctan", "arctan2", "sinh", "cosh", "tanh", "exp",
                   "exp2", "expm1", "log", "log2", "log10", "log1p", "power", "float_power", "hypot", "cbrt", "dot",
                   "matmul", "einsum", "inner", "outer", "tensordot", "vdot", "mean", "average", "std", "var", "sum",
                   "nansum", "nanmean", "prod", "cumprod", "convolve", "correlate", "interp", "linspace", "deg2rad",
                   "radians", "degrees", "rad2deg"}
# numpy Generator draws computed in C with floating point (fused multiply-adds, libm): only integers and
# ``random`` (a 53-bit integer times 2**-53) are exact; exact.uniform / exact.normal build on those
DRAWS_FORBIDDEN = {"uniform", "normal", "standard_normal", "exponential", "standard_exponential", "gamma", "beta",
                   "lognormal", "poisson", "binomial", "multivariate_normal", "dirichlet", "laplace", "logistic",
                   "standard_cauchy", "standard_t", "vonmises", "triangular"}
METHODS_FORBIDDEN = {"mean", "std", "var", "prod", "dot", "cumprod"}  # float reductions on arrays and tensors
TORCH_FORBIDDEN = {"exp", "log", "sin", "cos", "tanh", "matmul", "mm", "bmm", "einsum", "conv1d", "conv2d",
                   "interpolate", "pad", "sum", "mean", "nn", "functional", "fft"}
IMPORTS_FORBIDDEN = ("scipy", "PIL", "torch.nn", "skimage.transform", "skimage.filters", "cv2")
# function-level imports allowed where they decode files or re-render the bundled glyph bank, never generate
IMPORT_ALLOWED_IN = {"render_glyph_bank", "_matplotlib_sample", "main"}
NOT_GENERATORS = {"foreground_mask"}  # evaluation helpers that live beside a generator (torch, on model outputs)


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found: list[str] = []

    def where(node: ast.AST, what: str) -> None:
        found.append(f"{path.name}:{node.lineno}: {what}")

    functions = {id(n): f.name for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)
                 for n in ast.walk(f) if isinstance(n, ast.Import | ast.ImportFrom)}
    skipped = {id(n) for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) and f.name in NOT_GENERATORS
               for n in ast.walk(f)}
    for node in (n for n in ast.walk(tree) if id(n) not in skipped):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            if any(n == bad or n.startswith(bad + ".") for n in names for bad in IMPORTS_FORBIDDEN) and \
                    functions.get(id(node)) not in IMPORT_ALLOWED_IN:
                where(node, f"import of {names}")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
            where(node, "@ (matrix product: BLAS, summation order not specified)")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow) and not (
                isinstance(node.right, ast.Constant) and node.right.value == 2):
            where(node, "** other than ** 2 (pow: libm / SIMD)")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            attr, owner = node.func.attr, node.func.value
            owner_name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
            if owner_name == "np" and attr in NUMPY_FORBIDDEN:
                where(node, f"np.{attr}")
            elif owner_name in ("linalg", "fft"):
                where(node, f"{owner_name}.{attr}")
            elif owner_name == "rng" and attr in DRAWS_FORBIDDEN:
                where(node, f"rng.{attr} (use harness.data.exact)")
            elif owner_name in ("torch", "F") and attr in TORCH_FORBIDDEN:
                where(node, f"{owner_name}.{attr}")
            elif attr in METHODS_FORBIDDEN and owner_name not in ("ex", "np"):
                where(node, f".{attr}() (a float reduction)")
            elif attr == "sum" and owner_name not in ("ex",):
                line = path.read_text().splitlines()[node.lineno - 1]
                if "# integers" not in line:
                    where(node, ".sum() without '# integers' (float sums: ex.total / ex.sum_axis)")
    return found


def test_generators_call_only_exact_operations():
    problems = [v for name in GENERATORS for v in _violations(DATA / f"{name}.py")]
    assert not problems, "not exactly specified on every machine:\n" + "\n".join(problems)


def test_the_scan_finds_what_it_forbids(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import numpy as np\nfrom PIL import Image\n\ndef f(rng, a, b):\n"
                   "    return np.sin(a) + a @ b + a ** 3 + rng.normal() + a.mean() + a.sum()\n")
    kinds = " ".join(_violations(bad))
    for what in ("PIL", "np.sin", "@", "**", "rng.normal", ".mean", ".sum"):
        assert what in kinds


def lowered_environment() -> dict[str, str]:
    """The environment of a machine with the lowest SIMD levels the libraries support on this CPU."""
    import numpy._core._multiarray_umath as umath

    dispatch = [name for name in umath.__cpu_dispatch__ if umath.__cpu_features__.get(name)]
    return {**os.environ, "ATEN_CPU_CAPABILITY": "default", "NPY_DISABLE_CPU_FEATURES": " ".join(dispatch),
            "OPENBLAS_CORETYPE": "Prescott", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2", "ONEDNN_MAX_CPU_ISA": "SSE41",
            "PYTHONWARNINGS": "ignore"}


_GENERATE = """
import json, sys
import numpy._core._multiarray_umath as umath
import torch
from harness.core.task import task_sha256
from harness.run_config import resolve_config
from harness.tasks import build_task
lowered = [n for n in umath.__cpu_dispatch__ if umath.__cpu_features__.get(n)]
config = resolve_config(sys.argv[1], {})
hashes = {name: task_sha256(build_task(name, config)) for name in sys.argv[2].split(",")}
print(json.dumps({"hashes": hashes, "torch_capability": torch.backends.cpu.get_cpu_capability(),
                  "numpy_dispatch_left": lowered}))
"""


def generate_lowered(profile: str, names: list[str], cache: Path) -> dict:
    env = lowered_environment() | {"HARNESS_CACHE_DIR": str(cache)}
    out = subprocess.run([sys.executable, "-c", _GENERATE, profile, ",".join(names)], env=env, check=True,
                         capture_output=True, text=True, cwd=Path(__file__).resolve().parents[3], timeout=1800)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _check(result: dict, pins: dict[str, str]) -> None:
    assert result["torch_capability"] == "DEFAULT"  # the lowering took effect
    assert result["numpy_dispatch_left"] == []
    hashes = result["hashes"]
    moved = {name: (hashes[name][:12], pins[name][:12]) for name in pins if hashes[name] != pins[name]}
    assert not moved, f"tasks that generate other bytes with SIMD dispatch lowered (here, pinned): {moved}"


def test_tasks_same_bytes_with_simd_dispatch_lowered(tmp_path):
    pins = DATA_SHA256["smoke"]
    _check(generate_lowered("smoke", sorted(pins), tmp_path), pins)


@pytest.mark.slow
def test_standard_tasks_same_bytes_with_simd_dispatch_lowered(tmp_path):
    pins = DATA_SHA256["standard"]
    _check(generate_lowered("standard", sorted(pins), tmp_path), pins)
