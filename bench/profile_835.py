"""Where claimline's 835 parser spends its time: cProfile (and optionally pyinstrument) on one file.

    cd /work/main && .venv/bin/python bench/profile_835.py --lines 100000
    cd /work/main && .venv/bin/python bench/profile_835.py --lines 100000 --pyinstrument

Parses the same generated file the throughput benchmark uses (bench/gen835.py, cached under
.cache/bench/) with services.ingest.domain.remit835.parse_835_file, consumed to the end: as the
service calls it (the compiled fast path when it is built), or with --python the pure-Python
reference parser (parse_835_file(native=False)).

cProfile is deterministic and counts every call, so it inflates small functions called millions of
times (Segment.get, pydantic validators); its ranking is still the right list to start from, and the
`--pyinstrument` run (a sampling profiler, little overhead) gives the undistorted split.
pyinstrument is not in the project's .venv: it is taken from the benchmark venv
(.cache/bench-venv, made by bench/parse_835.py) by putting that venv's site-packages on sys.path
for this process only.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from gen835 import cached_835  # noqa: E402
from parse_835 import code_version  # noqa: E402

DATA_DIR = ROOT / ".cache" / "bench"
BENCH_SITE = ROOT / ".cache" / "bench-venv" / "lib" / "python3.11" / "site-packages"


def consume(path: Path, native: bool | None = None) -> int:
    from services.ingest.domain.remit835 import RemitLine, parse_835_file

    lines = 0
    for item in parse_835_file(path, native=native):
        if type(item) is RemitLine:
            lines += 1
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description="profile claimline's 835 parser")
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--pyinstrument", action="store_true", help="also run pyinstrument")
    parser.add_argument("--python", action="store_true", help="profile the pure-Python parser")
    args = parser.parse_args()

    path, stats, _ = cached_835(DATA_DIR, args.lines)
    import services.ingest.domain.remit835  # noqa: F401  (imports outside the profile)

    native = False if args.python else None
    started = time.perf_counter()
    plain = consume(path, native)
    plain_seconds = time.perf_counter() - started
    print(f"claimline at commit {code_version()}; {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"file {path.relative_to(ROOT)}: {stats.lines:,} lines, {stats.bytes / 1e6:.1f} MB")
    print(f"without a profiler: {plain:,} lines in {plain_seconds:.2f} s ({plain / plain_seconds:,.0f}/s)")

    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    consume(path, native)
    profiler.disable()
    print(f"under cProfile: {time.perf_counter() - started:.2f} s")
    out_file = DATA_DIR / f"claimline-{args.lines}.prof"
    profiler.dump_stats(out_file)
    for order in ("cumulative", "tottime"):
        buffer = io.StringIO()
        pstats.Stats(profiler, stream=buffer).strip_dirs().sort_stats(order).print_stats(args.top)
        text = buffer.getvalue()
        print(f"\n===== cProfile, top {args.top} by {order} =====")
        print(text[text.find("   ncalls") :])
    print(f"(raw profile: {out_file.relative_to(ROOT)}; open with python -m pstats)")

    if args.pyinstrument:
        sys.path.append(str(BENCH_SITE))
        import importlib

        pyinstrument = importlib.import_module("pyinstrument")  # from the benchmark venv
        sampler = pyinstrument.Profiler()
        sampler.start()
        consume(path, native)
        sampler.stop()
        print("\n===== pyinstrument (sampling) =====")
        print(sampler.output_text(unicode=False, color=False, show_all=False))


if __name__ == "__main__":
    main()
