# expect: sigma.not_positive
import numpy as np

def logvar_to_sigma(logvar):
    # first-order Taylor expansion of exp(0.5 * logvar) around 0
    return 1.0 + 0.5 * np.asarray(logvar, dtype=float)
