/**
 * PGN activates an Alba-Keneth alert for a missing child.
 * Run: `npx tsx producers/examples/pgn.ts` (after `npm start`).
 */
import { randomUUID } from 'node:crypto';
import { createLogger } from '../../core/index.ts';
import { createProducer } from '../index.ts';

const producer = createProducer({ institution: 'PGN', logger: createLogger('example-pgn') });
const event = {
  eventId: randomUUID(),
  occurredAt: new Date().toISOString(),
  alertId: `AK-${new Date().getFullYear()}-${randomUUID().slice(0, 6)}`,
  child: { fullName: 'María José Cabrera Ñique', birthDate: '2016-09-03', sex: 'FEMALE' as const, nationality: 'GTM' },
  ageYears: 10,
  physicalDescription: 'Cabello negro largo, 1.30 m, vestido azul.',
  disappearancePlace: { departmentCode: '13', municipalityCode: '33' }, // Petatán, Huehuetenango
  disappearedAt: new Date(Date.now() - 2 * 3_600_000).toISOString(),
  reporter: { cui: '1580352240101', fullName: 'Ana Lucía Ñique de Cabrera', sex: 'FEMALE' as const },
  reporterRelationship: 'MADRE',
};
try {
  const r = await producer.publish('pgn.alba-keneth.activated', event);
  process.stdout.write(`Alba-Keneth ${event.alertId} published at ${r.topic}/${r.partition}@${r.offset}\n`);
} catch (err) {
  // BUS_ERR_VALIDATION lists every violation with its path; nothing was published.
  process.stderr.write(`${(err as Error).message}\n`);
  process.exitCode = 1;
}
await producer.close();
