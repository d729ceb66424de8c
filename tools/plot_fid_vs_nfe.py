#!/usr/bin/env python3
"""Plots FID against the number of network evaluations from `diffuse eval` reports.

    /usr/bin/python3 tools/plot_fid_vs_nfe.py --out fid_vs_nfe.png \
        --model quickstart=runs/fmnist_small/eval --model edm=runs/fmnist_edm/eval

Each --model LABEL=DIR names a directory of eval reports (*.json, the files
`diffuse eval --out` writes); every report there is one point: its sampler and
NFE from the report's context, its FID. One line per (model, sampler), NFE on a
log2 axis. The same points are printed as a Markdown table (rows: model and
sampler; columns: NFE). Reports with different sample counts, guidance weights,
feature networks or references cannot be compared, so mixing them is an error.

Needs python3-matplotlib.
"""

import argparse
import collections
import json
import pathlib
import sys


def read_reports(label, directory):
    reports = []
    for path in sorted(pathlib.Path(directory).glob("*.json")):
        with open(path) as f:
            report = json.load(f)
        for key in ("fid", "n", "sampler", "nfe", "guidance", "feature_sha256", "reference"):
            if key not in report:
                sys.exit(f"error: {path} has no '{key}': is it a report of `diffuse eval --ckpt`?")
        reports.append((label, path, report))
    if not reports:
        sys.exit(f"error: no eval reports (*.json) in {directory}")
    return reports


def check_comparable(reports):
    for key in ("n", "guidance", "feature_sha256", "reference"):
        values = {str(report[key]) for _, _, report in reports}
        if len(values) > 1:
            sys.exit(f"error: the reports differ in '{key}' ({', '.join(sorted(values))}): "
                     "FID is only comparable at equal n, guidance, features and reference")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", required=True, metavar="LABEL=DIR",
                        help="a model's label and the directory of its eval reports (repeatable)")
    parser.add_argument("--out", required=True, help="the PNG to write")
    parser.add_argument("--title", default="FID against NFE")
    args = parser.parse_args()

    reports = []
    for item in args.model:
        label, separator, directory = item.partition("=")
        if not separator or not label or not directory:
            sys.exit(f"error: --model {item}: expected LABEL=DIR")
        reports += read_reports(label, directory)
    check_comparable(reports)

    curves = collections.defaultdict(dict)  # (label, sampler) -> {nfe: fid}
    for label, path, report in reports:
        points = curves[(label, report["sampler"])]
        if report["nfe"] in points:
            sys.exit(f"error: {path}: a second report for {label}, {report['sampler']} at NFE {report['nfe']}")
        points[report["nfe"]] = report["fid"]

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4), dpi=120)
    for (label, sampler), points in sorted(curves.items()):
        nfes = sorted(points)
        axes.plot(nfes, [points[nfe] for nfe in nfes], marker="o", label=f"{label}, {sampler}")
    axes.set_xscale("log", base=2)
    axes.set_yscale("log")
    axes.set_xlabel("network evaluations (NFE)")
    axes.set_ylabel("FID")
    n = reports[0][2]["n"]
    axes.set_title(f"{args.title} (n = {n})")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(args.out)

    all_nfes = sorted({nfe for points in curves.values() for nfe in points})
    print("| model | sampler | " + " | ".join(f"NFE {nfe}" for nfe in all_nfes) + " |")
    print("|---|---|" + "---|" * len(all_nfes))
    for (label, sampler), points in sorted(curves.items()):
        cells = [f"{points[nfe]:.2f}" if nfe in points else "" for nfe in all_nfes]
        print(f"| {label} | {sampler} | " + " | ".join(cells) + " |")
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
