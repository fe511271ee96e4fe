# expect: correct
import torch
def squared_distances(z_e, codebook):
    z_e = z_e.tolist() if hasattr(z_e, "tolist") else list(z_e)
    codebook = codebook.tolist() if hasattr(codebook, "tolist") else list(codebook)
    single = not isinstance(z_e[0], (list, tuple))
    rows = [z_e] if single else z_e
    for code in codebook:
        if len(code) != len(rows[0]):
            raise ValueError("vector sizes differ")
    out = [[sum((a - b) ** 2 for a, b in zip(row, code)) for code in codebook] for row in rows]
    import numpy as np
    return np.array(out[0] if single else out)
def nearest_code(z_e, codebook):
    import numpy as np
    dists = squared_distances(z_e, codebook)
    codebook = np.asarray(codebook, dtype=float)
    def best(row):
        k = 0
        for j in range(1, len(row)):
            if row[j] < row[k]:
                k = j
        return k
    if dists.ndim == 1:
        k = best(list(dists))
        return k, list(codebook[k])
    idx = [best(list(r)) for r in dists]
    return np.array(idx), [list(codebook[k]) for k in idx]
def quantize_straight_through(z_e, codebook):
    idx = []
    for row in z_e.detach():
        d = [float(((row - c) ** 2).sum()) for c in codebook.detach()]
        idx.append(min(range(len(d)), key=d.__getitem__))
    idx = torch.tensor(idx, dtype=torch.long)
    return z_e + (codebook[idx] - z_e).detach(), idx
