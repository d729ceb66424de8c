#!/usr/bin/env python3
"""Writes the .npz reference statistics that tests/eval/test_reference_statistics.cpp
reads (`diffuse eval --ref-stats`), with numpy, into tests/reference/ref_stats/:

  stats.npz             mu [4] and sigma [4,4] as float64 (numpy.savez), as pytorch-fid saves them
  stats_f4_v2.npz       the same as float32, compressed, each .npy in format version 2.0
  wrong_width.npz       mu [3] with sigma [4,4]
  no_mu.npz             sigma alone
  fortran.npz           sigma in Fortran order

Made with numpy 1.26.4 (Debian's python3-numpy works as well):
  python3 tools/make_ref_stats_fixtures.py [--output-dir tests/reference/ref_stats]
"""
import argparse
import io
import os
import zipfile

import numpy as np

MU = np.array([0.5, -1.0, 2.0, 0.25])
SIGMA = np.array([[2.0, 0.5, 0.0, 0.0],
                  [0.5, 1.0, 0.25, 0.0],
                  [0.0, 0.25, 1.5, -0.5],
                  [0.0, 0.0, -0.5, 3.0]])


def save_version_2(path, arrays):
    """numpy.savez_compressed, with every member in .npy format version 2.0 (4-byte header length)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, array, version=(2, 0))
            archive.writestr(name + ".npy", member.getvalue())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", default="tests/reference/ref_stats")
    args = parser.parse_args()
    os.makedirs(args.output_dir, exist_ok=True)
    out = lambda name: os.path.join(args.output_dir, name)
    np.savez(out("stats.npz"), mu=MU, sigma=SIGMA)
    save_version_2(out("stats_f4_v2.npz"), {"mu": MU.astype(np.float32), "sigma": SIGMA.astype(np.float32)})
    np.savez(out("wrong_width.npz"), mu=MU[:3], sigma=SIGMA)
    np.savez(out("no_mu.npz"), sigma=SIGMA)
    np.savez(out("fortran.npz"), mu=MU, sigma=np.asfortranarray(SIGMA + np.triu(np.ones((4, 4)), 1)))


if __name__ == "__main__":
    main()
