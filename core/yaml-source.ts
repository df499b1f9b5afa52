/**
 * Locating violations in YAML data files (topics.yaml, alert-rules.yaml): the
 * line of a JSON Pointer, and the one error that lists every violation with
 * its path and line, sorted by line.
 */
import { isMap, isPair, isScalar, isSeq, type Document, type LineCounter } from 'yaml';
import { BusError, type ErrorCode, type Violation } from './errors.ts';

/** A violation located in a data file. */
export type LocatedViolation = Violation & { readonly line?: number };

/**
 * Line of the node at JSON Pointer `path` (of its key when `onKey`); falls
 * back to the deepest ancestor that exists, so a missing key points at its parent.
 */
export function lineOf(doc: Document, lineCounter: LineCounter, path: string, onKey: boolean): number | undefined {
  const segments = path === '' ? [] : path.slice(1).split('/').map(unescapePointer);
  let node: unknown = doc.contents;
  let offset = rangeStart(node);
  for (const [i, segment] of segments.entries()) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === segment);
      if (!pair) break;
      node = i === segments.length - 1 && onKey ? pair.key : pair.value;
      offset = rangeStart(node) ?? rangeStart(pair.key) ?? offset;
    } else if (isSeq(node)) {
      node = node.items[Number(segment)];
      if (node === undefined) break;
      offset = rangeStart(node) ?? offset;
    } else break;
  }
  return offset === undefined ? undefined : lineCounter.linePos(offset).line;
}

function rangeStart(node: unknown): number | undefined {
  return (node as { range?: [number, number, number] } | null | undefined)?.range?.[0];
}

/** Escapes one JSON Pointer segment (`~` and `/`). */
export function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

function unescapePointer(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** Throws one BusError naming `source` and listing every violation with its path and line. */
export function failWithViolations(code: ErrorCode, source: string, violations: readonly LocatedViolation[]): never {
  const sorted = [...violations].sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
  const lines = sorted.map((v) => `  ${v.path || '/'}${v.line === undefined ? '' : ` (line ${v.line})`}: ${v.message}`);
  throw new BusError(code, `${source}: ${sorted.length} violation(s):\n${lines.join('\n')}`, { violations: sorted });
}
