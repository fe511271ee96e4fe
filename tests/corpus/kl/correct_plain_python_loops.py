# expect: correct
import math

def _rows(mu, logvar):
    mu = mu.tolist() if hasattr(mu, "tolist") else list(mu)
    logvar = logvar.tolist() if hasattr(logvar, "tolist") else list(logvar)
    if not isinstance(mu[0], list):
        mu, logvar = [mu], [logvar]
    if len(mu) != len(logvar) or any(not isinstance(b, list) or len(a) != len(b)
                                     for a, b in zip(mu, logvar)):
        raise ValueError("mu and logvar must have the same shape")
    return mu, logvar

def kl_per_dimension(mu, logvar):
    mu, logvar = _rows(mu, logvar)
    out = []
    for j in range(len(mu[0])):
        total = 0.0
        for m, lv in zip(mu, logvar):
            total += -0.5 * (1 + lv[j] - m[j] ** 2 - math.exp(lv[j]))
        out.append(max(0.0, total / len(mu)))
    return out

def kl_to_standard_normal(mu, logvar):
    return max(0.0, sum(kl_per_dimension(mu, logvar)))
