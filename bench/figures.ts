/**
 * The figures `npm run bench` writes to bench/results/latest.json:
 * `{ figures: { name: { value, unit, baseline, ratio } }, conditions }`.
 * A figure names its baseline; ratios are computed once all figures are in.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname } from 'node:path';

export interface Figure {
  value: number;
  unit: string;
  baseline: string | null;
  ratio: number | null;
  /** Extra ratios to other figures (e.g. to the Java tools), by figure name. */
  ratios?: Record<string, number | null>;
  note?: string;
}

export interface BenchReport {
  figures: Record<string, Figure>;
  conditions: Record<string, unknown>;
}

export function createReport(conditions: Record<string, unknown>): {
  /**
   * `opts.pairedRatio`: the ratio to the baseline measured pairwise (e.g. the median of
   * per-round ratios when the two alternate), reported instead of value ÷ baseline value.
   */
  add(name: string, value: number, unit: string, baseline?: string | null, opts?: { compareTo?: string[]; note?: string; pairedRatio?: number }): void;
  finish(): BenchReport;
} {
  const figures: Record<string, Figure> = {};
  const compare: Record<string, string[]> = {};
  const paired: Record<string, number> = {};
  return {
    add(name, value, unit, baseline = null, opts = {}) {
      figures[name] = { value: round(value), unit, baseline, ratio: null, ...(opts.note ? { note: opts.note } : {}) };
      if (opts.compareTo) compare[name] = opts.compareTo;
      if (opts.pairedRatio !== undefined) paired[name] = opts.pairedRatio;
    },
    finish() {
      const ratioOf = (a: Figure, b?: Figure): number | null => (b && b.value > 0 ? round(a.value / b.value, 3) : null);
      for (const [name, f] of Object.entries(figures)) {
        f.ratio = f.baseline ? (name in paired ? round(paired[name]!, 3) : ratioOf(f, figures[f.baseline])) : null;
      }
      for (const [name, others] of Object.entries(compare)) {
        figures[name]!.ratios = Object.fromEntries(others.map((o) => [o, ratioOf(figures[name]!, figures[o])]));
      }
      return {
        figures,
        conditions: {
          date: new Date().toISOString(),
          node: process.version,
          cpus: cpus().length,
          cpuModel: cpus()[0]?.model,
          memoryGiB: Math.round(totalmem() / 2 ** 30),
          ...conditions,
        },
      };
    },
  };
}

/** Median of a non-empty list. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export function writeReport(path: string, report: BenchReport): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
}

export function printReport(report: BenchReport): void {
  const rows = Object.entries(report.figures).map(([name, f]) => [
    name,
    `${f.value} ${f.unit}`,
    f.baseline ?? '',
    f.ratio === null ? '' : String(f.ratio),
    f.ratios ? Object.entries(f.ratios).map(([k, v]) => `${k}: ${v}`).join(', ') : '',
  ]);
  const head = ['figure', 'value', 'baseline', 'ratio', 'other ratios'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  process.stdout.write(`${line(head)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${rows.map(line).join('\n')}\n`);
}
