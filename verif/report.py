"""Markdown tables of the reports (``python -m sense_verif.report``), for docs/results.md."""

from __future__ import annotations

import json
import sys

from sense_hw.faults import SITE_CLASSES

from .runner import REPO

REPORTS = REPO / "reports"


def console_table(records, columns):
    """Fixed-width text table: ``columns`` are ``(title, width, format(record))``; the first
    column is left-aligned."""
    lines = []
    for row in [[title for title, _, _ in columns]] + \
            [[cell(r) for _, _, cell in columns] for r in records]:
        lines.append(" ".join(f"{text:{'<' if n == 0 else '>'}{width}s}"
                              for n, (text, (_, width, _)) in enumerate(zip(row, columns))))
    return "\n".join(lines)


def bench_table(report):
    lines = ["| layer | P (full) | T | K | RTL cycles | model | utilization | full-P utilization "
             "(model) | dense RTL cycles | speedup | sim cycles/s |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["layers"]:
        lines.append(
            f"| {r['layer']} | {r['pixels']} ({r['full_pixels']}) | {r['reduction']} | "
            f"{r['kernels']} | {r['rtl_cycles']} | {r['model_cycles']} | "
            f"{r['utilization']:.1%} | {r['full_utilization']:.1%} | {r['dense_rtl_cycles']} | "
            f"{r['speedup_vs_dense']:.3f}x | {r['sim_cycles_per_s']:.0f} |")
    return "\n".join(lines)


def ifm_table(report):
    lines = ["| layer | T | input density | dead channels | stream | dense_ifm | skip | "
             "skip_rearranged | rearranged vs skip | vs dense_ifm | skipped (rearranged) | "
             "gated_fraction | on RTL |", "|---" * 13 + "|"]
    for r in report["ifm_sparsity"]["layers"]:
        lines.append(
            f"| {r['layer']} | {r['reduction']} | {r['input_density']:.2f} | "
            f"{r['dead_channels']}/{r['channels']} | {r['cycles_stream']} | "
            f"{r['cycles_dense_ifm']} | {r['cycles_skip']} | {r['cycles_skip_rearranged']} | "
            f"{r['rearranged_vs_skip']:.3f}x | {r['skip_rearranged_vs_dense_ifm']:.3f}x | "
            f"{r['skipped_fraction_skip_rearranged']:.1%} | {r['gated_fraction']:.1%} | "
            f"{'yes' if r['rtl'] else 'model'} |")
    return "\n".join(lines)


def synth_table(report):
    keys = ("LUT", "FF", "DSP", "LUTRAM", "BRAM18", "BRAM36", "CARRY")
    lines = ["| abft | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    def row(label, res, over):
        cells = [f"{res[k]:g}" + ("" if over.get(k) is None else f" ({over[k]:+.1%})")
                 for k in keys]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    for option, entry in report["options"].items():
        if "baseline" in entry:  # compared with the same array at its own depth
            depth = entry["baseline"]["config"]["acc_depth"]
            row(f"none, {depth}-deep", entry["baseline"]["resources"], {})
            option = f"{option}, {depth}-deep"
        row(option, entry["resources"], entry.get("overhead", {}))
    return "\n".join(lines)


def faults_table(report):
    lines = ["| abft | site class | runs | masked | benign alarm | detected | corrected | SDC "
             "| latency mean / max |", "|---|---|---|---|---|---|---|---|---|"]
    for option, table in report["results"].items():
        for kind in SITE_CLASSES + ("all",):
            row = table[kind]
            if not row["runs"]:
                continue
            latency = "-" if row["latency_mean"] is None else \
                f"{row['latency_mean']:.1f} / {row['latency_max']}"
            lines.append(f"| {option} | {kind} | {row['runs']} | {row['masked']} | "
                         f"{row['benign_alarm']} | {row['detected']} | {row['corrected']} | "
                         f"{row['sdc']} | {latency} |")
        ff = table["fault_free"]
        outputs = f", {ff['outputs']:,} outputs" if "outputs" in ff else ""
        lines.append(f"| {option} | fault-free | {ff['runs']} | false alarms: "
                     f"{ff['false_alarm']}{outputs} | | | | | |")
    return "\n".join(lines)


def main():
    for name, section, render in (("bench", "layers", bench_table),
                                  ("bench", "ifm_sparsity", ifm_table),
                                  ("synth", "options", synth_table),
                                  ("faults", "results", faults_table)):
        path = REPORTS / f"{name}.json"
        report = json.loads(path.read_text()) if path.exists() else {}
        if section in report:
            print(f"## {name}: {section}\n\n{render(report)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
