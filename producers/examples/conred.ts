/**
 * CONRED reports an incident, updates its figures, then closes it.
 * Run: `npx tsx producers/examples/conred.ts` (after `npm start` registered the schemas).
 */
import { randomUUID } from 'node:crypto';
import { createLogger } from '../../core/index.ts';
import { createProducer } from '../index.ts';

const producer = createProducer({ institution: 'CONRED', logger: createLogger('example-conred') });
const incidentId = `INC-${new Date().getFullYear()}-${randomUUID().slice(0, 8)}`;
const location = { departmentCode: '05', municipalityCode: '14', village: 'Aldea El Paredón' }; // Sipacate, Escuintla

const reported = await producer.publish('conred.incident.reported', {
  eventId: randomUUID(),
  occurredAt: new Date().toISOString(),
  incidentId,
  incidentType: 'INUNDACION',
  location,
  startedAt: new Date(Date.now() - 3_600_000).toISOString(),
  description: 'Desbordamiento del río Achiguate; familias evacuadas.',
  people: { affected: 120, evacuated: 45, sheltered: 30, dead: 0, missing: 1 },
  houses: { atRisk: 40, moderateDamage: 6 },
  infrastructure: { roadsAffected: 1 },
});
process.stdout.write(`reported ${incidentId} at ${reported.topic}/${reported.partition}@${reported.offset}\n`);

await producer.publish('conred.incident.updated', {
  eventId: randomUUID(),
  occurredAt: new Date().toISOString(),
  incidentId,
  incidentType: 'INUNDACION',
  location,
  description: 'Actualización: más familias albergadas.',
  people: { affected: 180, evacuated: 60, sheltered: 52, dead: 0, missing: 0 },
  houses: { atRisk: 55, moderateDamage: 9 },
  infrastructure: { roadsAffected: 2 },
});
process.stdout.write(`updated ${incidentId}\n`);
await producer.close();
