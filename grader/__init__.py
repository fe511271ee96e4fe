"""vae-grader: auto-graded exercises and mastery quiz for the lesson "Autoencoders and VAEs".

This package is imported by the sandbox's warm parent too, so it stays light:
nothing here imports the checks, the solutions or the quiz key.
"""

import os

__version__ = "0.1.0"

# The grader's own numpy works on small arrays, where BLAS threads only spin: one thread each,
# so a batch's workers and their sandboxes get the cores (unless the caller chose otherwise,
# or numpy was imported before this package).
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
del _name
