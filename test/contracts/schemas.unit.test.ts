/* eslint-disable @typescript-eslint/no-explicit-any -- the tests walk raw schema JSON and poke invalid shapes into events */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GENERATED_TYPES_FILE, generateTypes } from '../../contracts/generate.ts';
import { DEFAULT_SCHEMAS_DIR, EVENT_TYPES, getContract, loadContracts, sampleEvent } from '../../contracts/index.ts';

const REQUIRED_EVENT_TYPES = [
  'conred.incident.reported',
  'conred.incident.updated',
  'conred.incident.closed',
  'pgn.alba-keneth.activated',
  'pgn.alba-keneth.deactivated',
  'igm.migratory-movement.recorded',
  'mingob.vehicle.reported-stolen',
  'mingob.vehicle.recovered',
  'mingob.arrest-warrant.issued',
  'mingob.arrest-warrant.closed',
];
/** Beyond the list: MINEX's registry of Guatemalans abroad, and the centre's own alerts. */
const ST_EVENT_TYPES = ['minex.citizen-abroad.registered', 'st.alert.issued'];

const ENTITY_ID: Record<string, string> = {
  conred: 'incidentId',
  pgn: 'alertId',
  igm: 'movementId',
  vehicle: 'plate',
  'arrest-warrant': 'warrantId',
};

function avscFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? avscFiles(join(dir, d.name)) : d.name.endsWith('.avsc') ? [join(dir, d.name)] : [],
  );
}

/** Paths of named types or fields without a non-empty doc. */
function missingDocs(node: unknown, path: string): string[] {
  if (Array.isArray(node)) return node.flatMap((n, i) => missingDocs(n, `${path}[${i}]`));
  if (node === null || typeof node !== 'object') return [];
  const n = node as Record<string, any>;
  const out: string[] = [];
  if (['record', 'enum', 'fixed'].includes(n.type) && !(typeof n.doc === 'string' && n.doc.trim()))
    out.push(`${path} (${n.name})`);
  if (n.type === 'record') {
    for (const f of n.fields) {
      if (!(typeof f.doc === 'string' && f.doc.trim())) out.push(`${path}.${f.name}`);
      out.push(...missingDocs(f.type, `${path}.${f.name}`));
    }
  } else if (typeof n.type === 'object') out.push(...missingDocs(n.type, path));
  return out;
}

function countDefinitions(node: unknown, name: string): number {
  if (Array.isArray(node)) return node.reduce((s, n) => s + countDefinitions(n, name), 0);
  if (node === null || typeof node !== 'object') return 0;
  const n = node as Record<string, any>;
  const here = n.name === name && (n.type === 'record' || n.type === 'enum') ? 1 : 0;
  return here + Object.values(n).reduce((s: number, v) => s + countDefinitions(v, name), 0);
}

describe('schema files', () => {
  it('define exactly the required event types', () => {
    expect([...EVENT_TYPES].sort()).toEqual([...REQUIRED_EVENT_TYPES, ...ST_EVENT_TYPES].sort());
  });

  it('have a doc on every record, enum and field', () => {
    const files = avscFiles(DEFAULT_SCHEMAS_DIR);
    expect(files.length).toBeGreaterThanOrEqual(10 + 4);
    for (const file of files) {
      expect(missingDocs(JSON.parse(readFileSync(file, 'utf8')), relative(DEFAULT_SCHEMAS_DIR, file))).toEqual([]);
    }
  });

  it.each(REQUIRED_EVENT_TYPES)('%s: namespace, PascalCase name, eventId, occurredAt, then its entity id', (type) => {
    const [institution, entity, action] = type.split('.') as [string, string, string];
    const pascal = `${entity}-${action}`
      .split('-')
      .map((w) => w[0]!.toUpperCase() + w.slice(1))
      .join('');
    const { schema, subjectRecordName } = getContract(type as (typeof EVENT_TYPES)[number]);
    expect(schema.namespace).toBe(`gt.sns.${institution}`);
    expect(subjectRecordName).toBe(`gt.sns.${institution}.${pascal}`);
    const fields = schema.fields as { name: string; type: any }[];
    expect(fields[0]).toMatchObject({ name: 'eventId', type: { type: 'string', logicalType: 'uuid' } });
    expect(fields[1]).toMatchObject({ name: 'occurredAt', type: { type: 'long', logicalType: 'timestamp-millis' } });
    expect(fields[2]?.name).toBe(ENTITY_ID[entity] ?? ENTITY_ID[institution]);
  });

  it('are self-contained: shared types inlined once, referenced by name afterwards', () => {
    const { schema } = getContract('pgn.alba-keneth.activated');
    const text = JSON.stringify(schema);
    expect(countDefinitions(schema, 'Location')).toBe(1);
    expect(countDefinitions(schema, 'PersonRef')).toBe(1);
    expect(countDefinitions(schema, 'Sex')).toBe(1);
    expect(text).toContain('"type":"gt.sns.shared.PersonRef"'); // reporter, by name
    for (const type of EVENT_TYPES) {
      // No reference to a name that is not defined earlier in the same schema.
      expect(() => JSON.parse(JSON.stringify(getContract(type).schema))).not.toThrow();
    }
  });

  it('the committed generated types are up to date (run npm run contracts:generate)', () => {
    expect(readFileSync(GENERATED_TYPES_FILE, 'utf8')).toBe(generateTypes());
  });
});

describe('Avro encoding', () => {
  it.each(REQUIRED_EVENT_TYPES)('%s: a sample round-trips and re-encodes to the same bytes', (type) => {
    const { avroType } = getContract(type as (typeof EVENT_TYPES)[number]);
    const event = sampleEvent(type as (typeof EVENT_TYPES)[number]);
    const bytes = avroType.toBuffer(event);
    const back = avroType.fromBuffer(bytes);
    expect(back.eventId).toBe(event.eventId);
    expect(back.occurredAt).toBe(event.occurredAt);
    expect(avroType.toBuffer(back).equals(bytes)).toBe(true);
    expect(loadContracts().validate(type as (typeof EVENT_TYPES)[number], back)).toEqual([]);
  });

  it('timestamps decode as UTC ISO strings and dates as YYYY-MM-DD', () => {
    const { avroType } = getContract('conred.incident.reported');
    const back = avroType.fromBuffer(
      avroType.toBuffer(sampleEvent('conred.incident.reported', { startedAt: '2025-10-01T05:30:00-06:00' })),
    );
    expect(back.startedAt).toBe('2025-10-01T11:30:00.000Z');
    const warrant = getContract('mingob.arrest-warrant.issued').avroType;
    const person = { fullName: 'A', birthDate: '1985-04-12', sex: 'MALE' } as const;
    expect(
      warrant.fromBuffer(warrant.toBuffer(sampleEvent('mingob.arrest-warrant.issued', { person }))).person.birthDate,
    ).toBe('1985-04-12');
  });

  it('Unicode names (accents, ñ, decomposed forms, emoji) round-trip unchanged', () => {
    const { avroType } = getContract('mingob.arrest-warrant.issued');
    for (const fullName of [
      'José Ángel Núñez Peñate',
      'Ñoño Güicho Xicará',
      'Maria\u0301 Nun\u0303ez',
      'Iximche\u0301 😀 Q’eqchi’',
    ]) {
      const event = sampleEvent('mingob.arrest-warrant.issued', { person: { fullName, sex: 'UNKNOWN' } });
      expect(loadContracts().validate('mingob.arrest-warrant.issued', event)).toEqual([]);
      expect(avroType.fromBuffer(avroType.toBuffer(event)).person.fullName).toBe(fullName);
    }
  });

  it('omitted optional fields and defaults are filled on decode', () => {
    const { avroType } = getContract('conred.incident.closed');
    const back = avroType.fromBuffer(
      avroType.toBuffer(
        sampleEvent('conred.incident.closed', { summary: undefined, people: {}, houses: {}, infrastructure: {} }),
      ),
    );
    expect(back.summary).toBeNull();
    expect(back.people.dead).toBe(0);
  });
});
