"""Trial: the planning benchmark with active selection NOT weighting candidates by their own noise (one mean
noise variance, the behaviour before 1c1574e), to separate that change from the model change."""
import runpy
import sys

import numpy as np

import latxfer.plan as P

_orig = P._greedy
P._greedy = lambda Zc, V, s2, n, criterion, G: _orig(Zc, V, float(np.mean(s2)), n, criterion, G)
sys.argv = ["benchmarks/planning.py", "--seeds", "3", "--spaces", "nb201", "--cache", "/tmp/latxfer-bench-mix",
            "--out", "planning_nb201"]
runpy.run_path("/work/main/benchmarks/planning.py", run_name="__main__")
