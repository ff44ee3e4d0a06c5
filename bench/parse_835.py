"""835 parse throughput and peak memory: claimline's parser side by side with oxedi and pyx12.

    cd /work/main && .venv/bin/python bench/parse_835.py --lines 1000000

Each parser runs in its own child process (so peak RSS is that parser's alone), on the same generated
file (bench/gen835.py, cached under .cache/bench/). The child times only the parse (perf_counter,
after its imports) and reports JSON on stdout: service lines seen, seconds, CPU seconds, peak RSS
(getrusage ru_maxrss) and the RSS it had before parsing. claimline runs in the project's .venv;
the others run in a separate benchmark venv (.cache/bench-venv) that this script creates on demand
with python3.11 and pinned packages, so nothing is installed into .venv.

What each row measures:

  claimline-tables  services.ingest.domain.remit835.read_835_tables(path), every batch iterated:
                 the compiled reader into columnar tables (services, claims, adjustments, extras,
                 provider adjustments, transactions) in flat buffers, no Python object per line or
                 value; pass one reads envelopes, headers and totals, pass two checks every claim.
                 The values are the items' (tests/unit/test_remit835_tables.py). The nearest to
                 oxedi.parse_file, which also hands over tables.
  claimline      services.ingest.domain.remit835.parse_835_file(path), consumed to the end, as the
                 ingest service calls it: the compiled fast path (claimline_x12, both passes) plus
                 the RemitLine items built from its records (one per SVC, each with its RemitClaim,
                 RemitServiceLine, Adjustments and RemitContext; the same items as the Python
                 parser). Reports which path read the file (native, or the Python fallback).
  claimline-core the compiled core alone: claimline_x12.Scanner pass one (checks, totals, header
                 segments; the contexts built in Python), then pass two iterated to the end; counts
                 the service lines in its claim records. No item objects: the nearest to oxedi's
                 parse_file, which also hands over tables rather than a Python object per line.
  claimline-python  parse_835_file(path, native=False): the pure-Python reference parser.
  oxedi          oxedi.parse_file(path): the Rust core reads the whole file, indexes every segment,
                 runs its loop engine and structure checks and projects typed columnar tables
                 (payments, claims, services, adjustments, ...); counts rows of `services`. No
                 Python object per line is made.
  oxedi-stream   oxedi.stream(mmap of the file, by="transaction"): one batch of tables per ST/SE;
                 sums the `services` rows of the batches.
  oxedi-rows     oxedi.parse_file(path), then every row of `services`, `claims` and `adjustments`
                 turned into a Python dict (pyarrow, 65,536 rows at a time) and iterated: the
                 closest to claimline's "a Python object per service line, with its claim".
  pyx12          pyx12.x12file.X12Reader(path): iterates every segment (a pyx12 Segment object
                 with its elements and composites, plus envelope/count checks); counts SVC
                 segments. No loop structure, no implementation-guide (map) validation.
  pyx12-context  pyx12.x12context.X12ContextReader(...).iter_segments("2110"): the map-driven
                 reader that walks the 005010X221A1 implementation guide and yields one loop tree
                 per 2110 service payment loop; counts those trees. Too slow for 1M lines, so it
                 reads a smaller file (--pyx12-context-lines) and is compared by lines/second.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = ROOT / ".cache"
DATA_DIR = CACHE / "bench"
BENCH_VENV = CACHE / "bench-venv"
BENCH_PYTHON = BENCH_VENV / "bin" / "python"
PROJECT_PYTHON = ROOT / ".venv" / "bin" / "python"
BENCH_REQUIREMENTS = ("oxedi==0.6.0", "pyx12==4.0.0", "pyarrow==26.0.1", "pyinstrument==5.1.3")
MEMORY_TARGET_MB = 200.0
PARSER_PATHS = (  # the files claimline's number depends on
    "services/ingest/domain/remit835.py",
    "services/ingest/native",
    "services/ingest/domain/x12.py",
    "shared/schemas/events.py",
    "shared/schemas/envelope.py",
)
CLAIMLINE_ROWS = ("claimline-tables", "claimline", "claimline-core", "claimline-python")
ALL_PARSERS = (*CLAIMLINE_ROWS, "oxedi", "oxedi-stream", "oxedi-rows", "pyx12", "pyx12-context")
DEFAULT_PARSERS = ALL_PARSERS


# ----------------------------------------------------------------------------- child side
# Everything below `_child_*` runs in a child process, under the interpreter of the parser's venv.
# It imports only the standard library at module level.


def _rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _child_claimline(path: Path, native: bool | None = None) -> dict[str, object]:
    sys.path.insert(0, str(ROOT))
    from services.ingest.domain import remit835
    from services.ingest.domain.remit835 import RemitLine, RemittanceRead, parse_835_file
    from services.ingest.domain.x12 import Problem

    python_reads = []
    reference = remit835._parse_835_file_python

    def spy(*args: object, **kwargs: object) -> object:
        python_reads.append(1)
        return reference(*args, **kwargs)  # type: ignore[arg-type]

    remit835._parse_835_file_python = spy  # type: ignore[assignment]
    base = _rss_mb()
    started = time.perf_counter()
    cpu = time.process_time()
    lines = problems = hold = remittances = 0
    for item in parse_835_file(path, native=native):
        if isinstance(item, RemitLine):
            lines += 1
            if item.posting != "auto":
                hold += 1
        elif isinstance(item, RemittanceRead):
            remittances += 1
        elif isinstance(item, Problem):
            problems += 1
    seconds = time.perf_counter() - started
    return {
        "lines": lines,
        "seconds": seconds,
        "cpu": time.process_time() - cpu,
        "base_mb": base,
        "checks": {
            "problems": problems,
            "lines_on_hold": hold,
            "remittances": remittances,
            "read_by": "python" if python_reads else "native",
        },
    }


def _child_claimline_python(path: Path) -> dict[str, object]:
    return _child_claimline(path, native=False)


def _child_claimline_core(path: Path) -> dict[str, object]:
    sys.path.insert(0, str(ROOT))
    from services.ingest.domain import remit835

    base = _rss_mb()
    started = time.perf_counter()
    cpu = time.process_time()
    delimiters, start = remit835._native_delimiters(path)
    contexts = remit835._native_contexts(path, delimiters, start)
    lines = claims = 0
    for batch in remit835._native_scanner(path, delimiters, start, emit=True):
        for record in batch:
            if record[0] == 1:
                claims += 1
                lines += len(record[1][13])
    seconds = time.perf_counter() - started
    return {
        "lines": lines,
        "seconds": seconds,
        "cpu": time.process_time() - cpu,
        "base_mb": base,
        "checks": {"claims": claims, "transactions": len(contexts)},
    }


def _child_claimline_tables(path: Path) -> dict[str, object]:
    sys.path.insert(0, str(ROOT))
    from services.ingest.domain.remit835 import read_835_tables

    base = _rss_mb()
    started = time.perf_counter()
    cpu = time.process_time()
    tables = read_835_tables(path)
    if tables is None:
        raise SystemExit("claimline-tables: the compiled reader did not vouch for the file")
    lines = claims = adjustments = transactions = 0
    for batch in tables.batches:
        lines += batch.services.num_rows
        claims += batch.claims.num_rows
        adjustments += batch.adjustments.num_rows
        transactions += batch.transactions.num_rows
    seconds = time.perf_counter() - started
    on_hold = sum(1 for context in tables.contexts.values() if context.imbalance is not None)
    return {
        "lines": lines,
        "seconds": seconds,
        "cpu": time.process_time() - cpu,
        "base_mb": base,
        "checks": {
            "claims": claims,
            "adjustments": adjustments,
            "transactions": transactions,
            "unbalanced_transactions": on_hold,
        },
    }


def _child_oxedi(path: Path) -> dict[str, object]:
    import oxedi

    base = _rss_mb()
    started = time.perf_counter()
    cpu = time.process_time()
    result = oxedi.parse_file(path)
    lines = len(result.tables["services"])
    claims = result.count_claims()
    diagnostics = len(result.diagnostics)
    seconds = time.perf_counter() - started
    return {
        "lines": lines,
        "seconds": seconds,
        "cpu": time.process_time() - cpu,
        "base_mb": base,
        "checks": {"claims": claims, "diagnostics": diagnostics, "version": oxedi.__version__},
    }


def _child_oxedi_stream(path: Path) -> dict[str, object]:
    import mmap

    import oxedi

    base = _rss_mb()
    started = time.perf_counter()
    cpu = time.process_time()
    lines = batches = diagnostics = 0
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        for batch in oxedi.stream(data, by="transaction"):
            batches += 1
            diagnostics += len(batch.diagnostics)
            if "services" in batch.tables:
                lines += len(batch.tables["services"])
    seconds = time.perf_counter() - started
    return {
        "lines": lines,
        "seconds": seconds,
        "cpu": time.process_time() - cpu,
        "base_mb": base,
        "checks": {"batches": batches, "diagnostics": diagnostics},
    }


def _child_oxedi_rows(path: Path) -> dict[str, object]:
    import importlib

    import oxedi

    pyarrow = importlib.import_module("pyarrow")  # only in the benchmark venv
    base = _rss_mb()
    started = time.perf_counter()
    cpu = time.process_time()
    result = oxedi.parse_file(path)
    counts: dict[str, int] = {}
    for name in ("claims", "services", "adjustments"):
        table = pyarrow.table(result.tables[name])
        seen = 0
        for offset in range(0, table.num_rows, 65536):
            for row in table.slice(offset, 65536).to_pylist():
                seen += row["row"] is not None
        counts[name] = seen
    seconds = time.perf_counter() - started
    return {
        "lines": counts["services"],
        "seconds": seconds,
        "cpu": time.process_time() - cpu,
        "base_mb": base,
        "checks": {"claims": counts["claims"], "adjustments": counts["adjustments"]},
    }


def _child_pyx12(path: Path) -> dict[str, object]:
    import pyx12.x12file

    base = _rss_mb()
    started = time.perf_counter()
    cpu = time.process_time()
    lines = segments = 0
    with pyx12.x12file.X12Reader(str(path)) as reader:
        for segment in reader:
            segments += 1
            if segment.get_seg_id() == "SVC":
                lines += 1
        errors = len(reader.pop_errors())
    seconds = time.perf_counter() - started
    return {
        "lines": lines,
        "seconds": seconds,
        "cpu": time.process_time() - cpu,
        "base_mb": base,
        "checks": {"segments": segments, "reader_errors": errors},
    }


def _child_pyx12_context(path: Path) -> dict[str, object]:
    import pyx12.error_handler
    import pyx12.params
    import pyx12.x12context

    base = _rss_mb()
    started = time.perf_counter()
    cpu = time.process_time()
    lines = other = 0
    params = pyx12.params.params()
    errh = pyx12.error_handler.errh_null()
    with pyx12.x12context.X12ContextReader(params, errh, str(path)) as reader:
        for node in reader.iter_segments("2110"):
            if node.id == "2110":
                lines += 1
            else:
                other += 1
    seconds = time.perf_counter() - started
    return {
        "lines": lines,
        "seconds": seconds,
        "cpu": time.process_time() - cpu,
        "base_mb": base,
        "checks": {"other_nodes": other},
    }


CHILDREN = {
    "claimline": _child_claimline,
    "claimline-core": _child_claimline_core,
    "claimline-tables": _child_claimline_tables,
    "claimline-python": _child_claimline_python,
    "oxedi": _child_oxedi,
    "oxedi-stream": _child_oxedi_stream,
    "oxedi-rows": _child_oxedi_rows,
    "pyx12": _child_pyx12,
    "pyx12-context": _child_pyx12_context,
}


def child_main(name: str, path: Path) -> None:
    result = CHILDREN[name](path)
    result["peak_mb"] = _rss_mb()
    print(json.dumps(result))


# ----------------------------------------------------------------------------- parent side


@dataclass
class Run:
    parser: str
    file_lines: int
    lines: int
    seconds: float
    cpu: float
    peak_mb: float
    base_mb: float
    checks: dict[str, object]


def ensure_bench_venv(log: bool = True) -> None:
    """Create .cache/bench-venv with python3.11 and the pinned packages, if it is not ready yet."""
    probe = "import oxedi, pyx12, pyarrow, pyinstrument"
    if BENCH_PYTHON.exists():
        ok = subprocess.run([str(BENCH_PYTHON), "-c", probe], capture_output=True).returncode == 0
        if ok:
            return
    if log:
        print(f"creating the benchmark venv {BENCH_VENV.relative_to(ROOT)} ...", file=sys.stderr)
    if not BENCH_PYTHON.exists():
        subprocess.run(["python3.11", "-m", "venv", str(BENCH_VENV)], check=True)
    subprocess.run([str(BENCH_PYTHON), "-m", "pip", "install", "--quiet", *BENCH_REQUIREMENTS], check=True)


def python_for(parser: str) -> Path:
    return PROJECT_PYTHON if parser in CLAIMLINE_ROWS else BENCH_PYTHON


def run_child(parser: str, path: Path, file_lines: int, timeout: float) -> Run:
    command = [str(python_for(parser)), str(Path(__file__).resolve()), "--child", parser, str(path)]
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{parser} failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    return Run(
        parser,
        file_lines,
        int(data["lines"]),
        float(data["seconds"]),
        float(data["cpu"]),
        float(data["peak_mb"]),
        float(data["base_mb"]),
        dict(data.get("checks", {})),
    )


def _file_for(lines: int, claims_per_transaction: int, seed: int) -> tuple[Path, dict[str, object]]:
    sys.path.insert(0, str(HERE))
    from gen835 import cached_835

    path, stats, generated = cached_835(
        DATA_DIR, lines, claims_per_transaction=claims_per_transaction, seed=seed
    )
    info = {
        "path": str(path.relative_to(ROOT)),
        "lines": stats.lines,
        "claims": stats.claims,
        "transactions": stats.transactions,
        "segments": stats.segments,
        "mb": stats.bytes / 1e6,
        "generated": generated,
        "generation_seconds": stats.seconds,
    }
    return path, info


def _check(run: Run) -> list[str]:
    """Sanity checks on what a parser saw; a failed check marks the row."""
    failures = []
    if run.lines != run.file_lines:
        failures.append(f"{run.parser}: saw {run.lines} service lines, the file has {run.file_lines}")
    for key in ("problems", "lines_on_hold", "unbalanced_transactions", "diagnostics", "reader_errors"):
        value = run.checks.get(key)
        if isinstance(value, int) and value:
            failures.append(f"{run.parser}: {key} = {value} (a clean balanced file should have 0)")
    return failures


def code_version() -> str:
    """The commit the parser was measured at, and whether its files differ from that commit."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", *PARSER_PATHS],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    return f"{head} (parser files modified in the work tree)" if dirty else head


def _fmt_int(value: float) -> str:
    return f"{value:,.0f}"


def report(
    runs: dict[str, Run], files: dict[int, dict[str, object]], args: argparse.Namespace, version: str
) -> str:
    out: list[str] = []
    out.append(
        f"835 parse benchmark  {time.strftime('%Y-%m-%d %H:%M')}  "
        f"python {sys.version.split()[0]}  cores {os.cpu_count()}  repeat {args.repeat} (best time)"
    )
    out.append(f"  claimline at commit {version}")
    for _size, info in sorted(files.items()):
        state = "generated" if info["generated"] else "cached"
        out.append(
            f"  file {info['path']}: {info['lines']:,} lines, {info['claims']:,} claims, "
            f"{info['transactions']:,} transactions, {info['segments']:,} segments, "
            f"{info['mb']:.1f} MB ({state}, {info['generation_seconds']:.1f} s to write)"
        )
    out.append("")
    header = (
        f"{'parser':<16} {'file lines':>10} {'lines seen':>10} {'seconds':>8} {'cpu s':>7} "
        f"{'lines/s':>11} {'peak MB':>8} {'base MB':>8}"
    )
    out.append(header)
    out.append("-" * len(header))
    for name in ALL_PARSERS:
        run = runs.get(name)
        if run is None:
            continue
        rate = run.lines / run.seconds if run.seconds else float("inf")
        out.append(
            f"{name:<16} {run.file_lines:>10,} {run.lines:>10,} {run.seconds:>8.2f} {run.cpu:>7.2f} "
            f"{_fmt_int(rate):>11} {run.peak_mb:>8.1f} {run.base_mb:>8.1f}"
        )
    out.append("")
    out.append("lines/s = service lines seen / parse seconds; peak MB = ru_maxrss of the child (whole")
    out.append("process: interpreter, imports, data); base MB = RSS after imports, before parsing.")
    busy = [run.parser for run in runs.values() if run.seconds > 1.15 * run.cpu + 0.05]
    if busy:
        out.append(
            f"WARNING: wall time well above CPU time for {', '.join(busy)}: the machine was busy with "
            "something else during that run; rerun with --repeat for a fair number."
        )

    def rate_of(name: str) -> float | None:
        run = runs.get(name)
        return run.lines / run.seconds if run and run.seconds else None

    for mine in CLAIMLINE_ROWS:
        speed = rate_of(mine)
        if not speed:
            continue
        out.append("")
        out.append(f"throughput ratio {mine} / other (lines per second; < 1 means {mine} is slower):")
        for name in ALL_PARSERS:
            other = rate_of(name)
            if other and name != mine:
                note = ""
                if runs[name].file_lines != runs[mine].file_lines:
                    note = f"  (other read a {runs[name].file_lines:,}-line file; compared by lines/s)"
                out.append(
                    f"  {mine}/{name:<16} {speed / other:8.3f}x   "
                    f"({name} is {other / speed:.2f}x {mine}'s speed){note}"
                )
        oxedi, pyx12 = rate_of("oxedi"), rate_of("pyx12")
        peak = runs[mine].peak_mb
        targets = []
        if oxedi:
            targets.append(f">= 1.0x oxedi: {'met' if speed >= oxedi else 'NOT met'} ({speed / oxedi:.2f}x)")
        if pyx12:
            targets.append(
                f">= 20x pyx12: {'met' if speed >= 20 * pyx12 else 'NOT met'} ({speed / pyx12:.1f}x)"
            )
        targets.append(f"peak < {MEMORY_TARGET_MB:.0f} MB: {'met' if peak < MEMORY_TARGET_MB else 'NOT met'}")
        out.append(f"  targets for {mine}: " + "; ".join(targets))
        out.append(
            f"  {mine} peak memory {peak:.1f} MB ({peak / MEMORY_TARGET_MB:.0%} of the target; the parse "
            f"added {peak - runs[mine].base_mb:.1f} MB over the {runs[mine].base_mb:.1f} MB after imports)"
        )
    if "claimline" in runs:
        out.append(f"  claimline's file was read by: {runs['claimline'].checks.get('read_by')}")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description="835 parse throughput and peak memory, side by side")
    parser.add_argument("--lines", type=int, default=1_000_000, help="service lines in the file")
    parser.add_argument("--repeat", type=int, default=1, help="runs per parser; the best time is kept")
    parser.add_argument(
        "--only",
        default=",".join(DEFAULT_PARSERS),
        help=f"comma-separated parsers among {', '.join(ALL_PARSERS)} (default: all)",
    )
    parser.add_argument(
        "--pyx12-lines",
        type=int,
        default=None,
        help="file size for the pyx12 X12Reader row (default: --lines)",
    )
    parser.add_argument(
        "--pyx12-context-lines",
        type=int,
        default=20_000,
        help="file size for the pyx12-context row (default 20,000: it reads ~1,000 lines/s)",
    )
    parser.add_argument("--claims-per-transaction", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=835)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds allowed per child run")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--child", nargs=2, metavar=("PARSER", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        child_main(args.child[0], Path(args.child[1]))
        return 0

    selected = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in selected if name not in ALL_PARSERS]
    if unknown:
        parser.error(f"unknown parser(s) {', '.join(unknown)}; choose among {', '.join(ALL_PARSERS)}")
    if any(name not in CLAIMLINE_ROWS for name in selected):
        ensure_bench_venv()

    sizes = {
        name: (
            min(args.pyx12_context_lines, args.lines)
            if name == "pyx12-context"
            else (args.pyx12_lines or args.lines)
            if name == "pyx12"
            else args.lines
        )
        for name in selected
    }
    files: dict[int, dict[str, object]] = {}
    paths: dict[int, Path] = {}
    for size in sorted(set(sizes.values())):
        print(f"preparing a {size:,}-line 835 ...", file=sys.stderr)
        paths[size], files[size] = _file_for(size, args.claims_per_transaction, args.seed)

    version = code_version()
    best: dict[str, Run] = {}
    for attempt in range(args.repeat):
        for name in selected:  # interleaved, so slow drift of the machine hits every parser alike
            print(f"run {attempt + 1}/{args.repeat}: {name} ...", file=sys.stderr, flush=True)
            run = run_child(name, paths[sizes[name]], sizes[name], args.timeout)
            print(
                f"  {run.lines:,} lines in {run.seconds:.2f} s, peak {run.peak_mb:.1f} MB",
                file=sys.stderr,
                flush=True,
            )
            previous = best.get(name)
            if previous is None or run.seconds < previous.seconds:
                if previous is not None:
                    run.peak_mb = max(run.peak_mb, previous.peak_mb)
                best[name] = run
            else:
                previous.peak_mb = max(previous.peak_mb, run.peak_mb)

    print(report(best, files, args, version))
    failures = [failure for name in selected for failure in _check(best[name])]
    if failures:
        print("\nCHECKS FAILED:\n  " + "\n  ".join(failures))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "cores": os.cpu_count(),
                    "claimline_commit": version,
                    "files": {str(k): v for k, v in files.items()},
                    "runs": {name: run.__dict__ for name, run in best.items()},
                },
                indent=2,
            )
        )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
