# expect: numeric.nonfinite
import numpy as np

def logvar_to_sigma(logvar):
    var = np.exp(np.asarray(logvar, dtype=np.float32))
    return (var ** 2) ** 0.25
