"""Hidden checks for `vq`: squared_distances, nearest_code, quantize_straight_through.

distance[k] = sum_i (z_e[i] - codebook[k, i])**2; the nearest code is the
argmin (ties to the lowest index); quantize_straight_through returns z_q whose
forward value is the nearest code and whose gradient with respect to z_e is
the identity (z_q = z_e + (e_k - z_e).detach()). Random inputs are drawn with a
clear winner (no near-ties that float32 could flip); exact ties are built from
duplicate codes or points exactly halfway between two codes, with values that
binary floating point represents exactly.
"""

from __future__ import annotations

import numpy as np

from grader.checks import Fail, T, TensorValue, as_array, check, describe, expect_close, expect_raises
from grader.settings import ABSOLUTE_TOLERANCE, FLOAT32_ROUNDING

SD, NC, QS = "squared_distances", "nearest_code", "quantize_straight_through"
Z_E = [0.72, -0.10]                                   # the lesson's vq-vae-nearest-code.py
CODEBOOK = [[-0.80, 0.20], [0.65, -0.05], [0.10, 0.90]]
NO_ST = ("VQ lookup is not differentiable: use the straight-through estimator "
         "z_q = z_e + (codes - z_e).detach(), which has the codebook values forward and the identity "
         "gradient backward, so the decoder's gradient reaches the encoder.")


def distances(z_e, codebook) -> np.ndarray:
    z_e, codebook = np.asarray(z_e, dtype=np.float64), np.asarray(codebook, dtype=np.float64)
    return ((z_e[..., None, :] - codebook) ** 2).sum(axis=-1)


def dist_mistakes(z_e, codebook) -> dict:
    z_e, codebook = np.asarray(z_e, dtype=np.float64), np.asarray(codebook, dtype=np.float64)
    diff = z_e[..., None, :] - codebook
    return {
        "vq.euclidean_not_squared": (np.sqrt((diff ** 2).sum(axis=-1)), "These are Euclidean distances "
                                     "(with a square root): the lesson's lookup uses SQUARED distances, "
                                     "‖z_e − e_j‖²."),
        "vq.l1_distance": (np.abs(diff).sum(axis=-1), "These are sums of absolute differences: square each "
                           "difference before summing."),
        "vq.mean_not_sum": ((diff ** 2).mean(axis=-1), "These are means of the squared differences: sum "
                            "over the d coordinates, don't average."),
        "vq.dot_product": ((z_e[..., None, :] * codebook).sum(axis=-1), "These are dot products z_e·e_j "
                           "(a similarity), not squared distances."),
    }


def expect_distances(sub, z_e, codebook, what: str, show: bool = False) -> None:
    got = sub.call(SD, z_e, codebook)
    want = distances(z_e, codebook)
    arr = as_array(got, what)
    z_arr, cb = np.asarray(z_e, dtype=np.float64), np.asarray(codebook, dtype=np.float64)
    if want.ndim == 2 and arr.shape == want.T.shape and arr.shape != want.shape and np.allclose(arr, want.T):
        raise Fail(f"{what} has shape {arr.shape}, codes by inputs: it should be (n, K), one row per "
                   "encoder output.", "vq.wrong_axis")
    if want.ndim == 1 and arr.shape == (len(want), 1) and np.allclose(arr[:, 0], want):
        raise Fail(f"{what} has shape {arr.shape}, a column: for one encoder output it should be (K,), one "
                   "distance per code.", "vq.wrong_axis")
    if want.ndim == 1 and arr.shape == (cb.shape[1],) and np.allclose(arr, ((cb - z_arr) ** 2).sum(axis=0)):
        raise Fail(f"{what} sums over the codes instead of over the coordinates: sum the squared "
                   "differences along the last axis (the d coordinates), one distance per code.", "vq.wrong_axis")
    expect_close(got, want, what, mistakes=dist_mistakes(z_e, codebook), show=show)


def separated(rng, n: int | None, k: int, d: int, gap: float = 1e-3):
    """z_e (n, d) or (d,) and a (K, d) codebook whose nearest and farthest codes are clear winners."""
    codebook = rng.normal(0, 1, (k, d))
    rows = []
    for _ in range(1 if n is None else n):
        while True:
            z = rng.normal(0, 1.2, d)
            s = np.sort(distances(z, codebook))
            if k == 1 or (s[1] - s[0] > gap and s[-1] - s[-2] > gap):
                rows.append(z)
                break
    z_e = rows[0] if n is None else np.stack(rows)
    return z_e, codebook


# --- nearest_code ----------------------------------------------------------------


def _index_values(got, what: str, single: bool) -> np.ndarray:
    """The learner's indices as an int array; Fail (naming the slip) for floats or other types."""
    if single:
        if isinstance(got, bool):
            raise Fail(f"{what} should be an int, but it is {describe(got)}.")
        if isinstance(got, int):
            return np.asarray(got)
        if isinstance(got, (np.ndarray, TensorValue)):
            arr = got.array if isinstance(got, TensorValue) else got
            if arr.ndim == 0 and arr.dtype.kind in "iu":
                return arr.astype(np.int64)
        if isinstance(got, float) or (isinstance(got, (np.ndarray, TensorValue)) and
                                      (got.array if isinstance(got, TensorValue) else got).dtype.kind == "f"):
            raise Fail(f"{what} is a float: a codebook index is an integer ID. Return int(...) of the "
                       "argmin, so it can index the codebook.", "vq.index_float")
        raise Fail(f"{what} should be an int, but it is {describe(got)}.")
    arr = got.array if isinstance(got, TensorValue) else got
    if isinstance(arr, (list, tuple)):
        try:
            arr = np.asarray(arr)
        except (TypeError, ValueError):
            raise Fail(f"{what} should be an integer array, but it is {describe(got)}.") from None
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "iuf":
        raise Fail(f"{what} should be an integer array, but it is {describe(got)}.")
    if arr.dtype.kind == "f":
        raise Fail(f"{what} are floats: codebook indices are integer IDs (np.argmin gives integers).",
                   "vq.index_float")
    return arr.astype(np.int64)


def expect_indices(got_idx: np.ndarray, z_e, codebook, what: str, show: bool) -> None:
    d = distances(z_e, codebook)
    want = np.argmin(d, axis=-1)
    if got_idx.shape != want.shape:
        raise Fail(f"{what} has shape {got_idx.shape}; it should have shape {want.shape}.", "shape")
    if np.array_equal(got_idx, want):
        return
    z, cb = np.asarray(z_e, dtype=np.float64), np.asarray(codebook, dtype=np.float64)
    other = {
        "vq.dot_product": (np.argmax((z[..., None, :] * cb).sum(axis=-1), axis=-1), "this is the code with the "
                           "largest dot product z_e·e_j (the most similar direction), not the nearest: use "
                           "squared distances ‖z_e − e_j‖²."),
        "vq.l1_distance": (np.argmin(np.abs(z[..., None, :] - cb).sum(axis=-1), axis=-1), "this is the nearest "
                           "code by the sum of absolute differences: the lookup uses squared distances."),
    }
    fits = [(mid, msg) for mid, (idx, msg) in other.items()
            if np.array_equal(got_idx, idx) and not np.array_equal(idx, want)
            and not np.array_equal(idx, np.argmax(d, axis=-1))]
    if len(fits) == 1:
        raise Fail(f"{what}: {fits[0][1]}", fits[0][0])
    if np.array_equal(got_idx, np.argmax(d, axis=-1)):
        raise Fail(f"{what}: this is the FARTHEST code. The nearest code is the argmin of the squared "
                   "distances, not the argmax.", "vq.argmax")
    last = d.shape[-1] - 1 - np.argmin(d[..., ::-1], axis=-1)
    if np.array_equal(got_idx, last):
        raise Fail(f"{what}: a tie went to the highest index; ties go to the lowest index (np.argmin "
                   "does this; in a loop, replace the best only on a strictly smaller distance, < not <=).",
                   "vq.tie_last")
    detail = f" It returned {got_idx.tolist()}; the right answer is {want.tolist()}." if show else ""
    raise Fail(f"{what} does not pick the nearest code.{detail}")


def expect_nearest(sub, z_e, codebook, what: str, show: bool = False) -> None:
    got = sub.call(NC, z_e, codebook)
    single = np.ndim(z_e) == 1
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise Fail(f"{what} should return a pair (index, code vector), but it returned {describe(got)}.",
                   "vq.return_shape")
    cb = np.asarray(codebook, dtype=np.float64)
    want = np.argmin(distances(z_e, codebook), axis=-1)
    if not isinstance(got[0], (int, float)) and single and isinstance(got[1], int):
        raise Fail(f"{what} returns (code vector, index): the order is (index, code vector).", "vq.order")
    idx = _index_values(got[0], f"{what}: the index" if single else f"{what}: the indices", single)
    expect_indices(idx, z_e, codebook, f"{what}: the index" if single else f"{what}: the indices", show)
    expect_close(got[1], cb[want], f"{what}: the code vector" if single else f"{what}: the quantized vectors",
                 show=show)


# --- quantize_straight_through ---------------------------------------------------------


def expect_quantized(sub, z_e, codebook, what: str, show: bool = False) -> None:
    got = sub.call(QS, T(z_e), T(codebook))
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise Fail(f"{what} should return a pair (z_q, indices), but it returned {describe(got)}.",
                   "vq.return_shape")
    want = np.argmin(distances(z_e, codebook), axis=-1)
    idx = _index_values(got[1], f"{what}: indices", single=False)
    expect_indices(idx, z_e, codebook, f"{what}: indices", show)
    # z_q = z_e + (codes - z_e).detach() in float32 rounds at the scale of z_e and the codes, not at
    # that of the code it gives (a code near 0 among values near 300): the tolerance follows that scale.
    scale = max(float(np.max(np.abs(z_e), initial=0.0)), float(np.max(np.abs(codebook), initial=0.0)))
    expect_close(got[0], np.asarray(codebook, dtype=np.float64)[want], f"{what}: z_q", show=show,
                 atol=ABSOLUTE_TOLERANCE + FLOAT32_ROUNDING * scale, mistakes={
        "vq.z_q_is_z_e": (np.asarray(z_e, dtype=np.float64), "z_q equals z_e: in the forward pass z_q must "
                          "carry the CODE values, z_q = z_e + (codes - z_e).detach()."),
    })


def straight_through_grad(sub, z_e, codebook, w, what: str, codebook_grad: bool = False) -> None:
    try:
        _, grads = sub.grad(QS, [T(z_e, grad=True), T(codebook, grad=codebook_grad)], {}, [w, None],
                            verify=False)  # straight-through: by design not the derivative of the value
    except Fail as fail:
        if fail.misconception == "torch.no_grad_path":
            raise Fail(f"{what}: z_q has no gradient path to z_e. {NO_ST}", "vq.no_straight_through") from None
        raise
    if grads[0] is None:
        raise Fail(f"{what}: no gradient reached z_e. {NO_ST}", "vq.no_straight_through")
    w = np.asarray(w, dtype=np.float64)
    expect_close(grads[0], w, f"{what}: the gradient reaching z_e", mistakes={
        "vq.reversed_gradient": (-w, "It is the NEGATIVE identity: the detached difference must be "
                                 "codes − z_e, added to z_e: z_q = z_e + (codes − z_e).detach()."),
        "vq.zero_gradient": (np.zeros_like(w), f"It is zero. {NO_ST}"),
        "vq.double_gradient": (2 * w, "It is twice the identity: z_e appears twice outside the detach(); "
                               "z_q = z_e + (codes − z_e).detach()."),
    })


def expect_no_broadcast(sub, func, z_e, codebook, what: str) -> None:
    try:
        expect_raises(sub, ValueError, func, z_e, codebook, what=what)
    except Fail as fail:
        raise Fail(fail.message + " Compare the vector sizes first and raise ValueError: broadcasting "
                   "a size-1 axis would give distances that mean nothing.", "vq.silent_broadcasting") from None


# --- squared_distances checks --------------------------------------------------------------


@check("squared_distances matches the lesson's example ([2.4004, 0.0074, 1.3844])", function=SD,
       public=True, weight=2)
def sd_lesson(sub, rng):
    expect_distances(sub, Z_E, CODEBOOK, "squared_distances on the lesson's encoder output", show=True)
    z_e, codebook = separated(rng, None, 3, 2)
    expect_distances(sub, z_e, codebook, "squared_distances on a second encoder output")


@check("squared_distances of one vector: (d,) -> (K,)", function=SD)
def sd_single(sub, rng):
    cases = [(k, d) + separated(rng, None, k, d)
             for k, d in ((int(rng.integers(2, 9)), int(rng.integers(2, 9))), (1, int(rng.integers(2, 5))),
                          (int(rng.integers(2, 5)), 1))]
    sub.ahead(SD, [(z_e, codebook) for _, _, z_e, codebook in cases])
    for k, d, z_e, codebook in cases:
        expect_distances(sub, z_e, codebook, f"squared_distances of a {d}-d vector to {k} codes")


@check("squared_distances of a batch: (n, d) -> (n, K)", function=SD, weight=2)
def sd_batch(sub, rng):
    n, k, d = int(rng.integers(2, 9)), int(rng.integers(2, 9)), int(rng.integers(2, 7))
    if k == n:
        k += 1   # a transposed (K, n) answer must not pass as (n, K)
    z_e, codebook = separated(rng, n, k, d)
    expect_distances(sub, z_e, codebook, f"squared_distances of a ({n}, {d}) batch to {k} codes")
    expect_distances(sub, z_e.tolist(), codebook.tolist(), "squared_distances of nested lists")


@check("squared_distances with mismatched d raises ValueError", function=SD)
def sd_mismatch(sub, rng):
    d = int(rng.integers(2, 6))
    z_e, codebook = separated(rng, 3, 4, d)
    expect_distances(sub, z_e, codebook, f"squared_distances of a (3, {d}) batch")
    expect_raises(sub, ValueError, SD, z_e, rng.normal(0, 1, (4, d + 1)),
                  what=f"z_e vectors of size {d} against codes of size {d + 1}")
    expect_no_broadcast(sub, SD, z_e[0], rng.normal(0, 1, (4, 1)),
                        what=f"a {d}-d z_e against codes of size 1 (numpy would broadcast them silently)")


# --- nearest_code checks ----------------------------------------------------------------------


@check("nearest_code matches the lesson's example (index 1, [0.65, -0.05])", function=NC, public=True, weight=2)
def nc_lesson(sub, rng):
    expect_nearest(sub, Z_E, CODEBOOK, "nearest_code on the lesson's encoder output", show=True)
    z_e, codebook = separated(rng, None, int(rng.integers(3, 7)), 2)
    expect_nearest(sub, z_e, codebook, "nearest_code on a second encoder output")


@check("nearest_code of single vectors returns (int, code)", function=NC)
def nc_single(sub, rng):
    cases = []
    for _ in range(3):
        k, d = int(rng.integers(2, 10)), int(rng.integers(1, 6))
        cases.append((k, d) + separated(rng, None, k, d))
    sub.ahead(NC, [(z_e, codebook) for _, _, z_e, codebook in cases])
    for k, d, z_e, codebook in cases:
        expect_nearest(sub, z_e, codebook, f"nearest_code of a {d}-d vector among {k} codes")


@check("nearest_code of a batch returns (indices (n,), quantized (n, d))", function=NC, weight=2)
def nc_batch(sub, rng):
    n, k, d = int(rng.integers(2, 12)), int(rng.integers(3, 10)), int(rng.integers(2, 6))
    z_e, codebook = separated(rng, n, k, d)
    expect_nearest(sub, z_e, codebook, f"nearest_code of a ({n}, {d}) batch among {k} codes")
    expect_nearest(sub, z_e.tolist(), codebook.tolist(), "nearest_code of nested lists")


def tie_case(rng):
    """Exact ties, in values binary floating point holds exactly (multiples of 1/16).

    (z_dup, dup): code a appears twice (at index a and at the last index) and z_dup is nearest to it.
    (z_half, half): z_half lies exactly halfway between two codes placed at random positions.
    """
    k = int(rng.integers(4, 7))
    codebook = rng.integers(-8, 9, (k, 2)) / 4.0
    while len({tuple(r) for r in codebook}) < k:
        codebook = rng.integers(-8, 9, (k, 2)) / 4.0
    a = int(rng.integers(0, k))
    dup = np.vstack([codebook, codebook[a]])
    z_dup = codebook[a] + rng.choice([-1, 1], 2) / 16.0   # closer to code a than to any other quarter point
    p = rng.integers(-4, 5, 2) / 2.0
    half = np.array([p, p + [2.0, 0.0], p + [0.0, 9.0], p + [-9.0, 0.0]])[rng.permutation(4)]
    z_half = p + [1.0, 0.0]
    return (z_dup, dup), (z_half, half)


@check("ties go to the lowest index", function=NC, weight=2)
def nc_ties(sub, rng):
    (z_dup, dup), (z_half, half) = tie_case(rng)
    batch = np.stack([z_half, z_half + [0.0, 9.0], z_half + [-1.0, 0.0]])
    sub.ahead(NC, [(z_dup, dup), (z_half, half), (batch, half)])
    expect_nearest(sub, z_dup, dup, "nearest_code with a duplicated code")
    expect_nearest(sub, z_half, half, "nearest_code of a point exactly halfway between two codes")
    expect_nearest(sub, batch, half, "nearest_code of a batch with a tie")


@check("nearest_code with mismatched d raises ValueError", function=NC)
def nc_mismatch(sub, rng):
    d = int(rng.integers(2, 6))
    z_e, codebook = separated(rng, None, 5, d)
    expect_nearest(sub, z_e, codebook, f"nearest_code of a {d}-d vector")
    expect_raises(sub, ValueError, NC, z_e, rng.normal(0, 1, (5, d + 1)),
                  what=f"a {d}-d z_e against codes of size {d + 1}")
    expect_raises(sub, ValueError, NC, rng.normal(0, 1, (3, d + 1)), codebook,
                  what=f"z_e vectors of size {d + 1} against codes of size {d}")
    expect_no_broadcast(sub, NC, rng.normal(0, 1, (3, 1)), codebook,
                        what=f"z_e vectors of size 1 against codes of size {d} (numpy would broadcast them "
                        "silently)")


# --- quantize_straight_through checks ------------------------------------------------------------


@check("quantize_straight_through on the lesson's example (z_q = [[0.65, -0.05]], index 1)", function=QS,
       public=True)
def qs_lesson(sub, rng):
    expect_quantized(sub, [Z_E], CODEBOOK, "quantize_straight_through on the lesson's encoder output", show=True)
    z_e, codebook = separated(rng, 2, 4, 2)
    expect_quantized(sub, z_e, codebook, "quantize_straight_through on a second batch")


@check("quantize_straight_through forward: z_q equals the nearest codes", function=QS, weight=2)
def qs_forward(sub, rng):
    n, k, d = int(rng.integers(3, 17)), int(rng.integers(3, 12)), int(rng.integers(2, 8))
    z_e, codebook = separated(rng, n, k, d)
    expect_quantized(sub, z_e, codebook, f"quantize_straight_through of a ({n}, {d}) batch among {k} codes")


@check("quantize_straight_through: ties go to the lowest index", function=QS)
def qs_ties(sub, rng):
    (z_dup, dup), (z_half, half) = tie_case(rng)
    expect_quantized(sub, np.stack([z_dup]), dup, "quantize_straight_through with a duplicated code")
    expect_quantized(sub, np.stack([z_half, z_half + [0.0, 9.0]]), half,
                     "quantize_straight_through of a point halfway between two codes")


@check("straight-through gradient: dz_q/dz_e is the identity", function=QS, weight=3)
def qs_gradient(sub, rng):
    n, k, d = int(rng.integers(2, 9)), int(rng.integers(3, 9)), int(rng.integers(2, 6))
    z_e, codebook = separated(rng, n, k, d)
    expect_quantized(sub, z_e, codebook, "quantize_straight_through")
    straight_through_grad(sub, z_e, codebook, rng.standard_normal((n, d)), "backpropagating through z_q")


@check("straight-through gradient with a learnable codebook (requires_grad)", function=QS, weight=2)
def qs_gradient_learned_codebook(sub, rng):
    n, k, d = int(rng.integers(2, 9)), int(rng.integers(3, 9)), int(rng.integers(2, 6))
    z_e, codebook = separated(rng, n, k, d)
    straight_through_grad(sub, z_e, codebook, rng.standard_normal((n, d)),
                          "backpropagating through z_q with a codebook that requires grad", codebook_grad=True)
    expect_quantized(sub, z_e, codebook, "quantize_straight_through")


@check("far from the origin: codes and encoder outputs of size 100", function=QS)
def qs_large(sub, rng):
    n, k, d = int(rng.integers(2, 6)), int(rng.integers(3, 7)), int(rng.integers(2, 5))
    z_e, codebook = separated(rng, n, k, d)
    expect_quantized(sub, z_e * 100.0 + 50.0, codebook * 100.0 + 50.0,
                     "quantize_straight_through with values around 50 ± 100")


@check("far from the origin: distances and nearest codes of size 100", function=NC)
def nc_large(sub, rng):
    k, d = int(rng.integers(3, 7)), int(rng.integers(2, 5))
    z_e, codebook = separated(rng, 3, k, d)
    expect_nearest(sub, z_e * 100.0 - 50.0, codebook * 100.0 - 50.0,
                   "nearest_code with values around -50 ± 100")


@check("far from the origin: squared distances of size 100", function=SD)
def sd_large(sub, rng):
    k, d = int(rng.integers(3, 7)), int(rng.integers(2, 5))
    z_e, codebook = separated(rng, 3, k, d)
    expect_distances(sub, z_e * 100.0, codebook * 100.0, "squared_distances with values around ±100")


# Each SPEC clause of this concept, and the checks that enforce it.
CLAUSES = {
    "squared_distances: (d,) → (K,) [[2.4004, 0.0074, 1.3844]]": ["sd_lesson", "sd_single", "sd_large"],
    "squared_distances: (n, d) → (n, K)": ["sd_batch"],
    "squared_distances: mismatched d raises ValueError": ["sd_mismatch"],
    "nearest_code: (d,) → (index as int, the code vector) [→ 1, [0.65, −0.05]]":
        ["nc_lesson", "nc_single", "nc_large"],
    "nearest_code: (n, d) → (indices (n,), quantized (n, d))": ["nc_batch"],
    "nearest_code: ties go to the lowest index, single and batched": ["nc_ties"],
    "nearest_code: mismatched d raises ValueError": ["nc_mismatch"],
    "quantize_straight_through: z_q's forward value is the nearest codes, indices of shape (n,)":
        ["qs_lesson", "qs_forward", "qs_large"],
    "quantize_straight_through: ties go to the lowest index": ["qs_ties"],
    "quantize_straight_through: ∂z_q/∂z_e is the identity (straight-through)":
        ["qs_gradient", "qs_gradient_learned_codebook"],
}
