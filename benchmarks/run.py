"""Run every benchmark, print the table, write benchmarks/results.json (and scaling.png).

    python -m benchmarks            # the issue's sizes (a few minutes)
    python benchmarks/run.py --quick   # tiny sizes, seconds; figures meaningless
    python -m benchmarks --only mlp hvp

BLAS is pinned to one thread for the whole run (threadpoolctl) and the
kernel in use is reported; OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE and friends
are reported, never changed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Callable, Sequence

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.rows import Config, Row, missing_row  # noqa: E402
from benchmarks.timing import blas_report, pin_blas_threads  # noqa: E402

HERE = Path(__file__).resolve().parent
SECTIONS = ("mlp", "hvp", "throughput", "proofs", "cli", "scaling")
BLAS_THREADS = 1


def _section_runners() -> dict[str, Callable[[Config], list[Row]]]:
    from benchmarks import bench_cli, bench_hvp, bench_mlp, bench_proofs, bench_throughput

    return {
        "mlp": bench_mlp.run,
        "hvp": bench_hvp.run,
        "throughput": bench_throughput.run,
        "proofs": bench_proofs.run,
        "cli": bench_cli.run,
    }


def log_log_slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of log y against log x (the growth exponent)."""
    pairs = [(math.log(x), math.log(y)) for x, y in zip(xs, ys) if x > 0 and y > 0]
    if len(pairs) < 2:
        return float("nan")
    mx = sum(p[0] for p in pairs) / len(pairs)
    my = sum(p[1] for p in pairs) / len(pairs)
    sxx = sum((p[0] - mx) ** 2 for p in pairs)
    return sum((p[0] - mx) * (p[1] - my) for p in pairs) / sxx if sxx > 0 else float("nan")


def scaling(config: Config) -> dict:
    from benchmarks import bench_mlp, bench_proofs

    batch = bench_mlp.batch_scaling(config)
    proofs = bench_proofs.n_scaling(config)
    return {
        "engine_step_vs_batch": {
            "network": "→".join(map(str, config.mlp_sizes)) + " sigmoid, float32",
            "rows": batch,
            "slope_engine": log_log_slope([r["batch"] for r in batch], [r["engine_s"] for r in batch]),
            "slope_numpy": log_log_slope([r["batch"] for r in batch], [r["numpy_s"] for r in batch]),
        },
        "softmax_proof_vs_n": {
            "proof": "symderiv.problems.softmax.prove_softmax_identity(n), cold caches",
            "rows": proofs,
            "slope": log_log_slope([r["n"] for r in proofs], [r["seconds"] for r in proofs]),
        },
    }


def environment() -> dict:
    import numpy
    import sympy

    return {
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "sympy": sympy.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "blas_threads_pinned_to": BLAS_THREADS,
        "blas": blas_report(),
    }


def run_all(config: Config, only: Sequence[str] | None = None) -> dict:
    """Run the selected sections (default: all) and return the results document."""
    selected = [s for s in SECTIONS if only is None or s in only]
    with pin_blas_threads(BLAS_THREADS):
        env = environment()  # after pinning: the report shows the thread count in force
        runners = _section_runners()
        rows: list[Row] = []
        scaling_result: dict = {}
        errors: list[str] = []
        started = time.perf_counter()
        for section in selected:
            try:
                if section == "scaling":
                    scaling_result = scaling(config)
                else:
                    rows.extend(runners[section](config))
            except Exception as exc:  # one broken benchmark must not hide the others
                errors.append(f"{section}: {type(exc).__name__}: {exc}")
                rows.append(missing_row(section, section, f"{type(exc).__name__}: {exc}"))
                traceback.print_exc()
        env["load_average_at_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
        env["seconds"] = time.perf_counter() - started
    return {
        "environment": env,
        "config": {key: list(v) if isinstance(v, tuple) else v for key, v in vars(config).items()},
        "rows": [row.as_json() for row in rows],
        "scaling": scaling_result,
        "errors": errors,
    }


# ---------------------------------------------------------------- output

def _fmt(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if abs(value) >= 1e5 or (value != 0 and abs(value) < 1e-3):
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}g}"


def _figure(row: dict) -> str:
    if row["figure"] is not None:
        return f"{_fmt(row['figure'])} {row['unit']}"
    return f"{_fmt(row['a_seconds'] * 1e3 if row['a_seconds'] is not None else None)} ms"


def format_table(results: dict) -> str:
    """The rows as a Markdown table (pasted as is into docs/performance.md)."""
    lines = [
        "| # | measured (A) | A | baseline (B), same run | A/B | paired A/B: median, IQR | target | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in results["rows"]:
        verdict = {True: "met", False: "**missed**", None: ""}[row["met"]]
        if row["note"].startswith("missing"):
            verdict = row["note"]
        spread = (
            f"{_fmt(row['paired'])} ({_fmt(row['ratio_low'])}–{_fmt(row['ratio_high'])})"
            if row["ratio_low"] is not None else "–"
        )
        lines.append(
            f"| {row['benchmark']} | {row['name']} | {_figure(row)} | {row['baseline']} | "
            f"{_fmt(row['ratio'])} | {spread} | {row['target']} | {verdict} |"
        )
    env = results["environment"]
    blas = "; ".join(
        f"{p['internal_api']} {p['version']} ({p['architecture']}), {p['num_threads']} thread(s)" for p in env["blas"]["pools"]
    )
    blas_env = ", ".join(f"{k}={v}" for k, v in env["blas"]["environment"].items()) or "none set"
    lines += [
        "",
        f"Python {env['python']}, numpy {env['numpy']}, sympy {env['sympy']}; {env['cpu_count']} CPUs; "
        f"BLAS: {blas}; BLAS environment: {blas_env}; load average at start/end: "
        f"{_fmt(env['load_average_at_start'][0])} / {_fmt(env['load_average_at_end'][0])}; {env['date_utc']}.",
    ]
    if results["scaling"]:
        lines += ["", format_scaling(results["scaling"])]
    return "\n".join(lines)


def format_scaling(result: dict) -> str:
    batch = result["engine_step_vs_batch"]
    proofs = result["softmax_proof_vs_n"]
    lines = [
        f"Engine training step vs batch size ({batch['network']}; log-log slope: engine "
        f"{_fmt(batch['slope_engine'])}, numpy {_fmt(batch['slope_numpy'])}):",
        "",
        "| batch | engine ms | numpy ms | engine/numpy | IQR |",
        "|---|---|---|---|---|",
    ]
    for r in batch["rows"]:
        lines.append(
            f"| {r['batch']} | {_fmt(r['engine_s'] * 1e3)} | {_fmt(r['numpy_s'] * 1e3)} | {_fmt(r['ratio'])} | "
            f"{_fmt(r['ratio_low'])}–{_fmt(r['ratio_high'])} |"
        )
    lines += [
        "",
        f"Softmax fixed-n proof time vs n ({proofs['proof']}; log-log slope {_fmt(proofs['slope'])}):",
        "",
        "| n | seconds | IQR |",
        "|---|---|---|",
    ]
    for r in proofs["rows"]:
        lines.append(f"| {r['n']} | {_fmt(r['seconds'])} | {_fmt(r['seconds_low'])}–{_fmt(r['seconds_high'])} |")
    return "\n".join(lines)


def plot_scaling(result: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    batch = result["engine_step_vs_batch"]["rows"]
    proofs = result["softmax_proof_vs_n"]["rows"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    sizes = [r["batch"] for r in batch]
    left.loglog(sizes, [r["engine_s"] * 1e3 for r in batch], "o-", label="engine")
    left.loglog(sizes, [r["numpy_s"] * 1e3 for r in batch], "s--", label="hand-written numpy")
    left.set_xlabel("batch size")
    left.set_ylabel("ms per SGD step")
    left.set_title(f"Training step, {result['engine_step_vs_batch']['network']}")
    left.legend()
    ns = [r["n"] for r in proofs]
    right.loglog(ns, [r["seconds"] for r in proofs], "o-", label="ring proof (one n)")
    right.set_xlabel("softmax size n")
    right.set_ylabel("seconds")
    right.set_title("Fixed-n softmax proof (J, Jᵀ = J, VJP)")
    right.legend()
    for axis in (left, right):
        axis.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and few rounds (smoke run; figures meaningless)")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    parser.add_argument("--output", type=Path, default=HERE / "results.json", help="results JSON (default benchmarks/results.json)")
    parser.add_argument("--plot", type=Path, default=HERE / "scaling.png", help="scaling plot PNG (default benchmarks/scaling.png)")
    parser.add_argument("--no-plot", action="store_true", help="do not draw the scaling plot")
    args = parser.parse_args(argv)

    config = Config.quick() if args.quick else Config.full()
    results = run_all(config, args.only)
    print(format_table(results))
    args.output.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwrote {args.output}")
    if results["scaling"] and not args.no_plot:
        try:
            print(f"wrote {plot_scaling(results['scaling'], args.plot)}")
        except ImportError:
            print("matplotlib is not installed: no plot")
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
