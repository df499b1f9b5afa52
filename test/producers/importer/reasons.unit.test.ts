/** The importer's rejects file speaks Spanish: every rule the validator can name has a Spanish phrase. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { spanishReason } from '../../../producers/importer/reasons.ts';

/** The rule names written literally in the validator's `push(ctx, path, message, 'rule')` calls. */
function validatorRules(): string[] {
  const source = readFileSync(new URL('../../../contracts/validator.ts', import.meta.url), 'utf8');
  return [...new Set([...source.matchAll(/push\(\s*ctx\s*,[^;]*?'([a-z][a-z.-]*)'\s*,?\s*\)/g)].map((m) => m[1]!))].sort();
}

describe('spanishReason', () => {
  // Regression: six rules (phone.format, id.format, document.pair, text.nul, timestamp.format, timestamp.offset)
  // fell back to the validator's English message.
  it('has a Spanish phrase for every rule the validator names, never its English message', () => {
    const rules = validatorRules();
    expect(rules).toEqual(expect.arrayContaining(['phone.format', 'id.format', 'document.pair', 'text.nul', 'timestamp.format', 'timestamp.offset', 'required']));
    const english = rules.filter((rule) => spanishReason({ path: '/x', message: 'ENGLISH', rule }, () => undefined).endsWith('ENGLISH'));
    expect(english).toEqual([]);
  });

  it('names the field and its column', () => {
    expect(spanishReason({ path: '/person/phone', message: 'x', rule: 'phone.format' }, (f) => (f === 'person.phone' ? 'telefono' : undefined))).toBe(
      'campo person.phone (columna telefono): no es un número de teléfono válido (dígitos, espacios, ( ) - y un + inicial opcional)',
    );
  });
});
