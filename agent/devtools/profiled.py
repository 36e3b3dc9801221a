"""Run a module under cProfile and keep the statistics even when it leaves through `os._exit`, as Chainlit does:
`python -m agent.devtools.profiled OUT.prof MODULE [ARGS...]` (used by `bench_app --profile`).

`python -m cProfile -o` writes nothing for Chainlit: its shutdown ends the process with `os._exit(0)`, past the
profiler's `finally`. Only the thread that runs the event loop is profiled; work sent to other threads (the
embeddings of the detector and of the appraisal) shows as the loop waiting for it, not as its own functions.
"""

from __future__ import annotations

import cProfile
import os
import runpy
import sys


def main(argv: list[str]) -> None:
    out, module, *rest = argv
    profiler = cProfile.Profile()
    real_exit = os._exit

    def dump_then_exit(code: int) -> None:
        profiler.disable()
        profiler.dump_stats(out)
        real_exit(code)

    os._exit = dump_then_exit  # type: ignore[assignment]
    sys.argv = [module, *rest]
    profiler.enable()
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    finally:
        profiler.disable()
        profiler.dump_stats(out)


if __name__ == "__main__":
    main(sys.argv[1:])
