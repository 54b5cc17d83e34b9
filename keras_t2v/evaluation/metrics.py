"""Distribution metrics in the evaluator's feature space (names say what they are: no Inception).

- `frechet_distance`: FD between Gaussians fitted to two feature sets ("FD-self").
- `kernel_distance`: unbiased MMD^2 with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3
  ("KID-self"), reliable at small N.
- `precision_recall`: k-NN manifold precision and recall (Kynkaanniemi et al. 2019), k = 3.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """(N, d), (M, d) -> ||mu_a - mu_b||^2 + Tr(C_a + C_b - 2 (C_a C_b)^(1/2))."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root, _ = linalg.sqrtm(cov_a @ cov_b, disp=False)
    if not np.isfinite(root).all():  # near-singular product: regularise as the FID reference code does
        eye = np.eye(len(cov_a)) * 1e-6
        root = linalg.sqrtm((cov_a + eye) @ (cov_b + eye))
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b - 2.0 * np.real(root)))


def kernel_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Unbiased MMD^2 between (N, d) and (M, d) with the cubic polynomial kernel."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    d = a.shape[1]
    k_aa = (a @ a.T / d + 1.0) ** 3
    k_bb = (b @ b.T / d + 1.0) ** 3
    k_ab = (a @ b.T / d + 1.0) ** 3
    n, m = len(a), len(b)
    term_aa = (k_aa.sum() - np.trace(k_aa)) / (n * (n - 1))
    term_bb = (k_bb.sum() - np.trace(k_bb)) / (m * (m - 1))
    return float(term_aa + term_bb - 2.0 * k_ab.mean())


def _kth_neighbour_radius(x: np.ndarray, k: int) -> np.ndarray:
    distances = np.linalg.norm(x[:, None] - x[None], axis=-1)
    return np.sort(distances, axis=1)[:, k]  # column 0 is the point itself


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    """Share of fakes inside the real manifold (precision) and of reals inside the fake one (recall);
    a manifold is the union of balls reaching each sample's k-th nearest neighbour."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    cross = np.linalg.norm(fake[:, None] - real[None], axis=-1)  # (fake, real)
    precision = np.mean((cross <= _kth_neighbour_radius(real, k)[None, :]).any(axis=1))
    recall = np.mean((cross.T <= _kth_neighbour_radius(fake, k)[None, :]).any(axis=1))
    return float(precision), float(recall)
