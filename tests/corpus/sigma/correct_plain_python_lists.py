# expect: correct
import math
def logvar_to_sigma(logvar):
    if hasattr(logvar, "tolist"):
        logvar = logvar.tolist()
    if isinstance(logvar, list):
        return [logvar_to_sigma(v) for v in logvar]
    return math.exp(logvar / 2)
