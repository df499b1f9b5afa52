import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../core/errors.ts';
import { catalogDoc, renderReadme } from '../../scripts/docs.ts';
import { ROOT } from '../../scripts/stack/stack.ts';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

describe('documentation mirrors the code (run `npm run docs` when this fails)', () => {
  it('README error, configuration and services tables are current', () => {
    expect(renderReadme(readme)).toBe(readme);
  });

  it('README has one table row per error code', () => {
    for (const code of Object.keys(ERROR_CODES)) expect(readme.split(`| \`${code}\` |`).length - 1, code).toBe(1);
  });

  it('docs/catalog.md is current', () => {
    expect(catalogDoc()).toBe(readFileSync(join(ROOT, 'docs/catalog.md'), 'utf8'));
  });

  it('README shows the two commands a newcomer types', () => {
    expect(readme).toContain('npm start');
    expect(readme).toContain('npm test');
  });
});
