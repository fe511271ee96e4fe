# expect: correct
import numpy as np
def logvar_to_sigma(logvar):
    return np.sqrt(np.exp(np.asarray(logvar, dtype=np.float64)))
