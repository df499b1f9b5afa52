import { describe, expect, it } from 'vitest';
import { buildAvroType, getContract, sampleEvent } from '../../contracts/index.ts';

// Regression: reading through a resolver (writer schema from the registry, reader
// schema of the SDK) turned logical dates into "Invalid time value".
describe('regression: resolver keeps logical dates and timestamps', () => {
  it('decodes dates and timestamps written by a separately built writer type', () => {
    const contract = getContract('igm.migratory-movement.recorded');
    const writer = buildAvroType(contract.schema);
    const data = sampleEvent('igm.migratory-movement.recorded');
    const decoded = contract.avroType.fromBuffer(writer.toBuffer(data), contract.avroType.createResolver(writer)) as typeof data;
    expect(decoded.traveller.birthDate).toBe(data.traveller.birthDate);
    expect(decoded.occurredAt).toBe(new Date(data.occurredAt).toISOString());
  });
});
