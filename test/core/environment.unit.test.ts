import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENVIRONMENT } from '../../core/environment.ts';
import { ROOT } from '../../scripts/stack/stack.ts';

/** Variables other libraries define and we only set or test for. */
const FOREIGN = new Set(['VITEST', 'KAFKAJS_NO_PARTITIONER_WARNING']);
const SOURCE_DIRS = ['core', 'catalog', 'contracts', 'registry', 'producers', 'consumers', 'migrations', 'scripts', 'bench', 'test'];

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'node_modules' || name === 'generated' ? [] : sources(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

/** Every environment variable the code reads (dotted or bracket access), with the file that reads it. */
function readsInCode(): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of SOURCE_DIRS.flatMap((d) => sources(join(ROOT, d)))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/\benv(?:\.([A-Z][A-Z0-9_]+)|\[['"]([A-Z][A-Z0-9_]+)['"]\])/g)) {
      const name = m[1] ?? m[2]!;
      if (!found.has(name)) found.set(name, relative(ROOT, file));
    }
  }
  return found;
}

describe('environment variables', () => {
  const documented = new Set(ENVIRONMENT.map((v) => v.name));

  it('every variable the code reads is documented in core/environment.ts (and so in the README)', () => {
    const missing = [...readsInCode()].filter(([name]) => !documented.has(name) && !FOREIGN.has(name)).map(([n, f]) => `${n} (${f})`);
    expect(missing).toEqual([]);
  });

  it('every documented variable is read somewhere', () => {
    const read = readsInCode();
    const text = SOURCE_DIRS.flatMap((d) => sources(join(ROOT, d))).map((f) => readFileSync(f, 'utf8')).join('\n');
    // Some are read through a helper with the name as a string literal.
    const unused = [...documented].filter((n) => !read.has(n) && !text.includes(`'${n}'`) && !text.includes(`"${n}"`));
    expect(unused).toEqual([]);
  });

  it('names are unique', () => {
    expect(documented.size).toBe(ENVIRONMENT.length);
  });
});
