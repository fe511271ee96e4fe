# expect: correct
def _flat(v):
    v = v.tolist() if hasattr(v, "tolist") else v
    if isinstance(v, (list, tuple)):
        return [("row", len(v))] + [item for row in v for item in _flat(row)]
    return [v]

def reconstruction_mse(x, x_hat):
    a, b = _flat(x), _flat(x_hat)
    shape_a = [t for t in a if isinstance(t, tuple)]
    shape_b = [t for t in b if isinstance(t, tuple)]
    if shape_a != shape_b:
        raise ValueError("x and x_hat must have the same shape")
    values = [(p - q) ** 2 for p, q in zip(a, b) if not isinstance(p, tuple)]
    return sum(values) / len(values)
