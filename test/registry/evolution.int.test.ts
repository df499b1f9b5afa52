import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { getContract, LOGICAL_TYPES, sampleEvent } from '../../contracts/index.ts';
import { isBusError } from '../../core/index.ts';
import { createDecoder, createRegistry, encodeFramed, subjectFor } from '../../registry/index.ts';
import { endpoints } from '../support/bus.ts';
import { uniqueName } from '../support/names.ts';

type AvroSchema = { fields: Array<{ name: string; type: unknown; default?: unknown; doc?: string }> } & Record<string, unknown>;

describe('schema evolution against the real registry (subject compatibility FULL_TRANSITIVE)', () => {
  const registry = createRegistry(endpoints.registryUrl);
  const contract = getContract('mingob.vehicle.recovered');
  const v1 = contract.schema as AvroSchema;

  it('accepts an optional field with a default; an old reader decodes new data and a new reader old data', async () => {
    const subject = subjectFor(uniqueName('evo'), contract.subjectRecordName);
    const { id: id1, version: ver1 } = await registry.register(subject, v1);
    const v2: AvroSchema = { ...v1, fields: [...v1.fields, { name: 'recoveredBy', type: ['null', 'string'], default: null, doc: 'Unit that recovered the vehicle.' }] };
    const { id: id2, version: ver2 } = await registry.register(subject, v2);
    expect(id2).not.toBe(id1);
    expect(ver2).toBe(ver1 + 1);

    const v2Type = avro.Type.forSchema(v2 as avro.Schema, { logicalTypes: LOGICAL_TYPES as never });
    const event = { ...sampleEvent('mingob.vehicle.recovered'), recoveredBy: 'PNC Subestación 13-1' };
    const newData = encodeFramed(id2, v2Type, event);
    // Old reader (the SDK's current v1 contract) reads v2 data: the new field is ignored.
    const oldReader = createDecoder({ registry, readerTypes: new Map([[contract.subjectRecordName, contract.avroType]]), logicalTypes: LOGICAL_TYPES });
    const read = await oldReader.decode<Record<string, unknown>>(newData);
    expect(read.schemaId).toBe(id2);
    expect(read.data.plate).toBe(event.plate);
    expect(read.data).not.toHaveProperty('recoveredBy');
    // New reader reads v1 data: the new field takes its default.
    const newReader = createDecoder({ registry, readerTypes: new Map([[contract.subjectRecordName, v2Type]]), logicalTypes: LOGICAL_TYPES });
    const old = await newReader.decode<Record<string, unknown>>(encodeFramed(id1, contract.avroType, sampleEvent('mingob.vehicle.recovered')));
    expect(old.data.recoveredBy).toBeNull();
  });

  it('rejects removing a required field', async () => {
    const subject = subjectFor(uniqueName('evo'), contract.subjectRecordName);
    await registry.register(subject, v1);
    const removed: AvroSchema = { ...v1, fields: v1.fields.filter((f) => f.name !== 'location') };
    expect(removed.fields.length).toBe(v1.fields.length - 1);
    const err = await registry.register(subject, removed).catch((e: unknown) => e);
    expect(isBusError(err, 'BUS_ERR_SCHEMA_INCOMPATIBLE')).toBe(true);
  });

  it('rejects changing a field type', async () => {
    const subject = subjectFor(uniqueName('evo'), contract.subjectRecordName);
    await registry.register(subject, v1);
    const changed: AvroSchema = { ...v1, fields: v1.fields.map((f) => (f.name === 'reportNumber' ? { ...f, type: 'long' } : f)) };
    const err = await registry.register(subject, changed).catch((e: unknown) => e);
    expect(isBusError(err, 'BUS_ERR_SCHEMA_INCOMPATIBLE')).toBe(true);
  });

  it('in lookup mode (production) refuses to register a missing schema', async () => {
    const subject = subjectFor(uniqueName('evo'), contract.subjectRecordName);
    const err = await registry.resolveId(subject, v1, { register: false }).catch((e: unknown) => e);
    expect(isBusError(err, 'BUS_ERR_SCHEMA_NOT_REGISTERED')).toBe(true);
  });
});
