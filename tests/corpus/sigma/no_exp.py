# expect: sigma.log_sigma
import numpy as np
def logvar_to_sigma(logvar):
    return 0.5 * np.asarray(logvar, dtype=float)
