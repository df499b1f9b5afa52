/**
 * MINGOB (PNC) reports a stolen vehicle and issues an arrest warrant.
 * Run: `npx tsx producers/examples/mingob.ts` (after `npm start`).
 */
import { randomUUID } from 'node:crypto';
import { createLogger } from '../../core/index.ts';
import { createProducer } from '../index.ts';

const producer = createProducer({ institution: 'MINGOB', logger: createLogger('example-mingob') });
const now = new Date().toISOString();
const owner = { cui: '1587564440904', fullName: 'José Ángel Núñez Pérez', sex: 'MALE' as const };
const [stolen, warrant] = await producer.publishBatch([
  {
    type: 'mingob.vehicle.reported-stolen',
    data: {
      eventId: randomUUID(),
      occurredAt: now,
      plate: 'P512KLM',
      vehicle: { plate: 'P512KLM', brand: 'Toyota', line: 'Hilux', model: 2019, colour: 'Blanco' },
      stolenAt: now,
      location: { departmentCode: '01', municipalityCode: '01' },
      reportNumber: 'DEN-2026-004512',
      owner,
    },
  },
  {
    type: 'mingob.arrest-warrant.issued',
    data: {
      eventId: randomUUID(),
      occurredAt: now,
      warrantId: `OC-${randomUUID().slice(0, 8)}`,
      person: { ...owner, birthDate: '1985-04-12' },
      crimeTypeCode: 'EXTORSION',
      court: 'Juzgado Primero de Primera Instancia Penal de Guatemala',
      caseNumber: '01079-2026-00123',
      issuedAt: now,
    },
  },
]);
process.stdout.write(`stolen vehicle at offset ${stolen!.offset}, warrant at offset ${warrant!.offset}\n`);
await producer.close();
