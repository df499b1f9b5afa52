/**
 * IGM records a migratory movement (an exit by land at Tecún Umán, in a car).
 * Run: `npx tsx producers/examples/igm.ts` (after `npm start`).
 */
import { randomUUID } from 'node:crypto';
import { createLogger } from '../../core/index.ts';
import { createProducer } from '../index.ts';

const producer = createProducer({ institution: 'IGM', logger: createLogger('example-igm') });
const r = await producer.publish('igm.migratory-movement.recorded', {
  eventId: randomUUID(),
  occurredAt: new Date().toISOString(),
  movementId: `MOV-${randomUUID()}`,
  direction: 'EXIT',
  borderPostCode: 'TECUN-UMAN',
  traveller: {
    cui: '1587564440904',
    documentType: 'DPI',
    documentNumber: '1587564440904',
    fullName: 'José Ángel Núñez Pérez',
    birthDate: '1985-04-12',
    sex: 'MALE',
    nationality: 'GTM',
  },
  reason: 'TURISMO',
  vehicle: { plate: 'P-512 KLM' }, // normalised to P512KLM by the SDK
});
process.stdout.write(`movement published at ${r.topic}/${r.partition}@${r.offset}\n`);
await producer.close();
