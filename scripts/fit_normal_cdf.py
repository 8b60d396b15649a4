#!/usr/bin/env python3
"""Fits the polynomial of kernels/cpu/vector_math.h's normal_cdf and prints it as C++.

For a = |x| the lower tail of the standard normal is written
    Phi(-a) = 0.5 * t * exp(p(u) - a^2 / 2),   t = 1 / (1 + K a),   u = 1 - t,
so p(u) = log(erfc(a / sqrt 2) / t) + a^2 / 2 is smooth on u in [0, 1) and a polynomial
of low degree fits it. p(0) = 0 exactly (Phi(0) = 1/2), so p has no constant term and
Horner's rule in float does not cancel near a = 0. The fit minimizes the largest error of
p, which is the largest relative error of the tail, by Lawson's reweighted least squares
on a dense grid of a. Needs numpy.
"""
import math

import numpy as np

K = 0.25
DEGREE = 9
A_MAX = 13.5  # Phi(-13.5) = 8e-42, a subnormal; the kernel returns 0 from a = 13.22


def main():
    a = np.linspace(0.0, A_MAX, 60001)
    t = 1.0 / (1.0 + K * a)
    u = 1.0 - t
    target = np.array([math.log(math.erfc(v / math.sqrt(2.0))) for v in a]) - np.log(t) + a * a / 2
    basis = np.vander(u, DEGREE + 1)[:, :-1]  # u^DEGREE ... u^1: highest first, for Horner
    weights = np.full_like(t, 1.0 / len(t))
    best_error, best = math.inf, None
    for _ in range(100):
        root = np.sqrt(weights)
        coeffs = np.linalg.lstsq(basis * root[:, None], target * root, rcond=None)[0]
        # Round to float first: the kernel evaluates the float coefficients.
        coeffs = coeffs.astype(np.float32).astype(np.float64)
        error = basis @ coeffs - target
        if np.abs(error).max() < best_error:
            best_error, best = np.abs(error).max(), coeffs
        weights = weights * np.abs(error)
        weights /= weights.sum()
    print(f"// degree {DEGREE}, K = {K}, largest relative error of the tail {best_error:.2e}")
    print("constexpr float kTailPoly[] = {" + ", ".join(f"{c:.9e}f" for c in best) + "};  // u^9 ... u^1")


if __name__ == "__main__":
    main()
