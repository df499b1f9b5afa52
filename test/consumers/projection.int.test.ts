/**
 * Projection tests, given / when / then, against the real Kafka, registry and
 * PostgreSQL: prior events, one new event, the rows that must then exist.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleEvent, type EventDataMap, type EventType } from '../../contracts/index.ts';
import { createProjector, INCIDENTS, STATE_TABLES, trackedColumns, type ProjectedEventType, type Projector, type StateTable, type StoredEvent } from '../../consumers/index.ts';
import { claimPartition, isTransientStoreError, writeBatch } from '../../consumers/store.ts';
import { createLogger } from '../../core/index.ts';
import { migrate } from '../../migrations/index.ts';
import { createTestContext, waitFor, type TestContext } from './support.ts';
import { uniqueName } from '../support/names.ts';

const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString();

describe('projector: given / when / then per event type', () => {
  let ctx: TestContext;
  let projector: Projector;

  beforeAll(async () => {
    ctx = await createTestContext('test-projection');
    projector = createProjector({ databaseUrl: ctx.databaseUrl, topicPrefix: ctx.prefix, groupId: uniqueName('projection-test'), heartbeatIntervalMs: 500, logger: createLogger('test-projection') });
    await projector.start();
  });

  afterAll(async () => {
    await projector?.stop();
    await ctx?.close();
  });

  /** Publishes events in order and waits until each is in the event log. */
  async function publish(...events: { type: EventType; data: EventDataMap[EventType] }[]): Promise<void> {
    for (const e of events) await ctx.publish(e.type, e.data);
    const ids = events.map((e) => e.data.eventId);
    await waitFor(async () => {
      const r = await ctx.query<{ n: number }>('SELECT count(*)::int AS n FROM store.event_log WHERE event_id = ANY($1::uuid[])', [ids]);
      return r[0]!.n === ids.length;
    }, 30_000, 'events in the log');
  }
  const ev = <T extends EventType>(type: T, overrides: Partial<EventDataMap[T]>) => ({ type, data: sampleEvent(type, overrides) as EventDataMap[EventType] });

  it('incident: given reported, when updated, then the counts are the update\'s and it stays open', async () => {
    const reported = ev('conred.incident.reported', { occurredAt: at(30) });
    const id = (reported.data as EventDataMap['conred.incident.reported']).incidentId;
    await publish(reported);
    await publish(ev('conred.incident.updated', { incidentId: id, occurredAt: at(20), people: { affected: 99, dead: 1 } }));
    const [row] = await ctx.query('SELECT * FROM store.incidents WHERE incident_id = $1', [id]);
    expect(row).toMatchObject({ status: 'open', incident_type: 'INUNDACION', department_code: '05', municipality_code: '14', people_affected: 99, people_dead: 1 });
    expect((row!.started_at as Date).toISOString()).toBe('2025-10-01T11:30:00.000Z');
  });

  it('incident: given reported and closed, when an older update arrives late, then it stays closed with the closing counts', async () => {
    const reported = ev('conred.incident.reported', { occurredAt: at(30) });
    const id = (reported.data as EventDataMap['conred.incident.reported']).incidentId;
    const closed = ev('conred.incident.closed', { incidentId: id, occurredAt: at(10), people: { affected: 7 } });
    await publish(reported, closed);
    await publish(ev('conred.incident.updated', { incidentId: id, occurredAt: at(20), people: { affected: 500 } }));
    const [row] = await ctx.query('SELECT * FROM store.incidents WHERE incident_id = $1', [id]);
    expect(row).toMatchObject({ status: 'closed', people_affected: 7, summary: 'Evento finalizado.', last_event_id: closed.data.eventId });
    // The late update is older than the closing but newer than the report: its description still wins.
    expect(row!.description).toBe('Actualización de cifras.');
  });

  it('Alba-Keneth: given nothing, when activated, then an active alert indexed by normalised name and birth date', async () => {
    const activated = ev('pgn.alba-keneth.activated', { occurredAt: at(5) });
    await publish(activated);
    const id = (activated.data as EventDataMap['pgn.alba-keneth.activated']).alertId;
    const [row] = await ctx.query('SELECT * FROM store.alba_keneth_alerts WHERE alert_id = $1', [id]);
    expect(row).toMatchObject({ status: 'active', child_name_normalized: 'MARIA JOSE CABRERA NIQUE', child_sex: 'FEMALE', age_years: 9, disappearance_department: '01' });
  });

  it('Alba-Keneth: given activated, when deactivated, then deactivated with reason; a late older activation does not reactivate it', async () => {
    const activated = ev('pgn.alba-keneth.activated', { occurredAt: at(50) });
    const id = (activated.data as EventDataMap['pgn.alba-keneth.activated']).alertId;
    await publish(ev('pgn.alba-keneth.deactivated', { alertId: id, occurredAt: at(40) }));
    await publish(activated);
    const [row] = await ctx.query('SELECT * FROM store.alba_keneth_alerts WHERE alert_id = $1', [id]);
    expect(row).toMatchObject({ status: 'deactivated', deactivation_reason: 'LOCALIZADO', located_department: '13', child_full_name: 'María José Cabrera Ñique' });
  });

  it('vehicle: given nothing, when reported stolen, then stolen; when recovered, then recovered', async () => {
    const stolen = ev('mingob.vehicle.reported-stolen', { occurredAt: at(30) });
    const plate = (stolen.data as EventDataMap['mingob.vehicle.reported-stolen']).plate;
    await publish(stolen);
    expect((await ctx.query('SELECT status, brand FROM store.stolen_vehicles WHERE plate = $1', [plate]))[0]).toEqual({ status: 'stolen', brand: 'Nissan' });
    await publish(ev('mingob.vehicle.recovered', { plate, occurredAt: at(10) }));
    expect((await ctx.query('SELECT status, brand, recovery_department FROM store.stolen_vehicles WHERE plate = $1', [plate]))[0]).toEqual({ status: 'recovered', brand: 'Nissan', recovery_department: '13' });
  });

  it('vehicle stolen again after its recovery: given stolen and recovered, when stolen again, then stolen with the recovery cleared, in any arrival order', async () => {
    const first = ev('mingob.vehicle.reported-stolen', { occurredAt: at(30) });
    const plate = (first.data as EventDataMap['mingob.vehicle.reported-stolen']).plate;
    const recovered = ev('mingob.vehicle.recovered', { plate, occurredAt: at(20) });
    const again = ev('mingob.vehicle.reported-stolen', { plate, vehicle: (first.data as EventDataMap['mingob.vehicle.reported-stolen']).vehicle, occurredAt: at(10), reportNumber: 'DEN-2026-0002' });
    await publish(first);
    await publish(recovered);
    await publish(again);
    const select = 'SELECT * FROM store.stolen_vehicles WHERE plate = $1';
    const [row] = await ctx.query(select, [plate]);
    expect(row).toMatchObject({ status: 'stolen', report_number: 'DEN-2026-0002', recovered_at: null, recovery_department: null, recovery_municipality: null });

    // The same events, one write each (the upsert's merge), in every other order: the same row.
    const events = [first, recovered, again];
    let offset = 0;
    const claim = await claimPartition(ctx.pool, 'store', 'order-test', 'order-test', 0, 'm');
    for (const order of [[0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]]) {
      await ctx.query('DELETE FROM store.stolen_vehicles WHERE plate = $1', [plate]);
      await ctx.query('DELETE FROM store.event_log WHERE event_id = ANY($1::uuid[])', [events.map((e) => e.data.eventId)]);
      for (const e of order.map((i) => events[i]!)) {
        const stored = {
          envelope: {
            eventId: e.data.eventId, eventType: e.type as ProjectedEventType, source: 'MINGOB', occurredAt: e.data.occurredAt,
            topic: 'order-test', partition: 0, offset: String(offset++), schemaId: 1, entityKey: plate,
          },
          data: e.data,
        } as StoredEvent;
        const client = await ctx.pool.connect();
        try {
          await writeBatch(client, 'store', [stored], [], { groupId: 'order-test', topic: 'order-test', partition: 0, nextOffset: String(offset), fence: claim.fence });
        } finally {
          client.release();
        }
      }
      expect((await ctx.query(select, [plate]))[0], String(order)).toEqual(row);
    }
  });

  it('warrant: given issued, when closed, then closed; the person stays indexed', async () => {
    const issued = ev('mingob.arrest-warrant.issued', { occurredAt: at(30) });
    const id = (issued.data as EventDataMap['mingob.arrest-warrant.issued']).warrantId;
    await publish(issued);
    expect((await ctx.query('SELECT status, person_cui FROM store.arrest_warrants WHERE warrant_id = $1', [id]))[0]).toEqual({ status: 'active', person_cui: '1587564440904' });
    await publish(ev('mingob.arrest-warrant.closed', { warrantId: id, occurredAt: at(5) }));
    expect((await ctx.query('SELECT status, closure_reason FROM store.arrest_warrants WHERE warrant_id = $1', [id]))[0]).toEqual({ status: 'closed', closure_reason: 'SERVED' });
  });

  it('citizen abroad: given nothing, when registered, then a registry row and its envelope in the event log', async () => {
    const registered = ev('minex.citizen-abroad.registered', { occurredAt: at(15) });
    const id = (registered.data as EventDataMap['minex.citizen-abroad.registered']).registrationId;
    await publish(registered);
    const [row] = await ctx.query('SELECT * FROM store.citizens_abroad WHERE registration_id = $1', [id]);
    expect(row).toMatchObject({
      person_cui: '1587564440904', person_document_type: 'PASAPORTE', person_document_number: '254369871',
      person_name_normalized: 'JOSE ANGEL NUNEZ PEREZ', country_of_residence: 'USA',
      consulate: 'Consulado General de Guatemala en Los Ángeles', city: 'Los Ángeles', last_event_id: registered.data.eventId,
    });
    expect(row).not.toHaveProperty('phone');
    const log = await ctx.query('SELECT event_type, topic, source, entity_key FROM store.event_log WHERE event_id = $1', [registered.data.eventId]);
    expect(log).toEqual([{ event_type: 'minex.citizen-abroad.registered', topic: ctx.topicOf('minex.citizen-abroad.registered'), source: 'MINEX', entity_key: id }]);
  });

  it('citizen abroad: given a registration confirmed later, when an older registration arrives late, then the newer data stays and the gaps fill', async () => {
    const newer = ev('minex.citizen-abroad.registered', { occurredAt: at(10), countryOfResidence: 'MEX', consulate: 'Consulado de Guatemala en Tapachula', city: null });
    const id = (newer.data as EventDataMap['minex.citizen-abroad.registered']).registrationId;
    await publish(newer);
    await publish(ev('minex.citizen-abroad.registered', { registrationId: id, occurredAt: at(40), city: 'Los Ángeles' }));
    const rows = await ctx.query('SELECT country_of_residence, consulate, city, last_event_id FROM store.citizens_abroad WHERE registration_id = $1', [id]);
    expect(rows).toEqual([{ country_of_residence: 'MEX', consulate: 'Consulado de Guatemala en Tapachula', city: 'Los Ángeles', last_event_id: newer.data.eventId }]);
  });

  it('text through COPY: tabs, line breaks, backslashes, a literal \\N, quotes, accents and emoji come back unchanged', async () => {
    const description = 'Línea 1\tcol\r\nLínea 2 \\N \\. C:\\ruta\\ "comillas" \'apóstrofo\' Ñandú 🌋';
    const reported = sampleEvent('conred.incident.reported', { occurredAt: at(5), description, location: { departmentCode: '05', municipalityCode: '14', village: 'Aldea\\Sur', addressLine: null, latitude: 14.1, longitude: -91.1 } });
    const stored = {
      envelope: {
        eventId: reported.eventId, eventType: 'conred.incident.reported', source: 'CONRED', occurredAt: reported.occurredAt,
        topic: 'copy-test', partition: 0, offset: '0', schemaId: 1, entityKey: reported.incidentId,
      },
      data: reported,
    } as StoredEvent;
    const claim = await claimPartition(ctx.pool, 'store', 'copy-test', 'copy-test', 0, 'm');
    const client = await ctx.pool.connect();
    try {
      await writeBatch(client, 'store', [stored], [], { groupId: 'copy-test', topic: 'copy-test', partition: 0, nextOffset: '1', fence: claim.fence });
    } finally {
      client.release();
    }
    const [row] = await ctx.query('SELECT description, village, address_line, people, people_affected FROM store.incidents WHERE incident_id = $1', [reported.incidentId]);
    expect(row).toEqual({ description, village: 'Aldea\\Sur', address_line: null, people: reported.people, people_affected: reported.people.affected ?? null });
  });

  it('a batch mixing known and new events (and a movement re-sent under a new event id): the new ones are projected once, the known change nothing', async () => {
    const claim = await claimPartition(ctx.pool, 'store', 'mixed-test', 'mixed-test', 0, 'm');
    let offset = 0;
    const asStored = (type: ProjectedEventType, data: EventDataMap[ProjectedEventType], key: string) =>
      ({ envelope: { eventId: data.eventId, eventType: type, source: 'IGM', occurredAt: data.occurredAt, topic: 'mixed-test', partition: 0, offset: String(offset++), schemaId: 1, entityKey: key }, data }) as StoredEvent;
    const write = async (events: StoredEvent[]) => {
      const client = await ctx.pool.connect();
      try {
        return await writeBatch(client, 'store', events, [], { groupId: 'mixed-test', topic: 'mixed-test', partition: 0, nextOffset: String(offset), fence: claim.fence });
      } finally {
        client.release();
      }
    };
    const first = sampleEvent('igm.migratory-movement.recorded', { occurredAt: at(4) });
    const again = sampleEvent('igm.migratory-movement.recorded', { occurredAt: at(4), movementId: first.movementId }); // same movement, new event id
    const other = sampleEvent('igm.migratory-movement.recorded', { occurredAt: at(3) });
    const incident = sampleEvent('conred.incident.reported', { occurredAt: at(3) });
    expect(await write([asStored('igm.migratory-movement.recorded', first, first.movementId)])).toEqual({ newEvents: 1, rows: 1 });
    const result = await write([
      asStored('igm.migratory-movement.recorded', first, first.movementId),
      asStored('igm.migratory-movement.recorded', again, again.movementId),
      asStored('igm.migratory-movement.recorded', other, other.movementId),
      asStored('conred.incident.reported', incident, incident.incidentId),
      asStored('conred.incident.reported', incident, incident.incidentId), // a producer retry inside the batch
    ]);
    expect(result).toEqual({ newEvents: 3, rows: 2 });
    const ids = [first.eventId, again.eventId, other.eventId, incident.eventId];
    expect((await ctx.query('SELECT count(*)::int AS n FROM store.event_log WHERE event_id = ANY($1::uuid[])', [ids]))[0]).toEqual({ n: 4 });
    const movements = await ctx.query('SELECT movement_id, event_id FROM store.migratory_movements WHERE movement_id = ANY($1)', [[first.movementId, other.movementId]]);
    expect(movements).toHaveLength(2);
    expect(movements).toEqual(expect.arrayContaining([{ movement_id: first.movementId, event_id: first.eventId }, { movement_id: other.movementId, event_id: other.eventId }]));
    expect(await ctx.query('SELECT last_event_id FROM store.incidents WHERE incident_id = $1', [incident.incidentId])).toEqual([{ last_event_id: incident.eventId }]);
  });

  // Regression: PostgreSQL returns uuids in lower case, so on the staging path an upper-case event id (valid)
  // was logged and its offset committed while its state row was never written.
  it('an upper-case event id in a batch that takes the staging path is projected like any other', async () => {
    const claim = await claimPartition(ctx.pool, 'store', 'upper-test', 'upper-test', 0, 'm');
    const upper = sampleEvent('mingob.arrest-warrant.issued', { eventId: crypto.randomUUID().toUpperCase(), occurredAt: at(3) });
    const other = sampleEvent('mingob.arrest-warrant.issued', { occurredAt: at(3) });
    const asStored = (data: EventDataMap['mingob.arrest-warrant.issued'], offset: number) =>
      ({ envelope: { eventId: data.eventId, eventType: 'mingob.arrest-warrant.issued', source: 'MINGOB', occurredAt: data.occurredAt, topic: 'upper-test', partition: 0, offset: String(offset), schemaId: 1, entityKey: data.warrantId }, data }) as StoredEvent;
    const client = await ctx.pool.connect();
    try {
      // The repeated event (a producer retry inside the batch) sends the event log through staging.
      const result = await writeBatch(client, 'store', [asStored(upper, 0), asStored(other, 1), asStored(other, 2)], [], { groupId: 'upper-test', topic: 'upper-test', partition: 0, nextOffset: '3', fence: claim.fence });
      expect(result).toEqual({ newEvents: 2, rows: 2 });
    } finally {
      client.release();
    }
    const warrants = await ctx.query('SELECT warrant_id FROM store.arrest_warrants WHERE warrant_id = ANY($1) ORDER BY warrant_id', [[upper.warrantId, other.warrantId]]);
    expect(warrants.map((w) => w.warrant_id)).toEqual([upper.warrantId, other.warrantId].sort());
  });

  it('state rows by direct COPY or by upsert: batches of new entities, of known ones and of both give the same state, each path as the policy says', async () => {
    // A schema of its own: the write policy is per table of a schema, and this test follows it from the start.
    const schema = `direct_${Date.now().toString(36)}`;
    await migrate({ databaseUrl: ctx.databaseUrl, schema });
    const claim = await claimPartition(ctx.pool, schema, 'direct-test', 'direct-test', 0, 'd');
    let offset = 0;
    type Incident = EventDataMap['conred.incident.reported'] | EventDataMap['conred.incident.updated'];
    type Vehicle = EventDataMap['mingob.vehicle.reported-stolen'] | EventDataMap['mingob.vehicle.recovered'];
    const write = async (...batch: [ProjectedEventType, Incident | Vehicle][]) => {
      const events = batch.map(([type, d]) => ({
        envelope: { eventId: d.eventId, eventType: type, source: 'X', occurredAt: d.occurredAt, topic: 'direct-test', partition: 0, offset: String(offset++), schemaId: 1, entityKey: 'k' },
        data: d,
      })) as StoredEvent[];
      const paths: string[] = [];
      const client = await ctx.pool.connect();
      try {
        const r = await writeBatch(client, schema, events, [], { groupId: 'direct-test', topic: 'direct-test', partition: 0, nextOffset: String(offset), fence: claim.fence }, { stateWrite: (table, path, rows) => paths.push(`${table}:${path}:${rows}`) });
        return { ...r, paths };
      } finally {
        client.release();
      }
    };
    const reported = (minutesAgo: number) => ['conred.incident.reported', sampleEvent('conred.incident.reported', { occurredAt: at(minutesAgo) })] as [ProjectedEventType, Incident];
    const updated = (of: [ProjectedEventType, Incident], minutesAgo: number, affected: number) =>
      ['conred.incident.updated', sampleEvent('conred.incident.updated', { incidentId: of[1].incidentId, occurredAt: at(minutesAgo), people: { affected } })] as [ProjectedEventType, Incident];
    const [a, b, c, d, e] = [reported(50), reported(49), reported(48), reported(47), reported(46)];
    expect(await write(a, b)).toEqual({ newEvents: 2, rows: 2, paths: ['incidents:direct:2'] });
    const [ua, ub, uc] = [updated(a, 40, 11), updated(b, 39, 22), updated(c, 38, 33)];
    expect(await write(ua, c)).toEqual({ newEvents: 2, rows: 2, paths: ['incidents:upsert:2'] }); // a is known: falls back
    expect(await write(d)).toEqual({ newEvents: 1, rows: 1, paths: ['incidents:upsert:1'] }); // 2^1 − 1 batch straight to the upsert
    expect(await write(e)).toEqual({ newEvents: 1, rows: 1, paths: ['incidents:direct:1'] }); // tried again, and it works
    expect(await write(ub, uc)).toEqual({ newEvents: 2, rows: 2, paths: ['incidents:upsert:2'] });
    const rows = await ctx.query(`SELECT incident_id, status, people_affected, description, last_event_id FROM "${schema}".incidents ORDER BY first_occurred_at`);
    const asReported = (x: [ProjectedEventType, Incident]) => x[1] as EventDataMap['conred.incident.reported'];
    const row = (x: [ProjectedEventType, Incident], affected: number | null, description: string | null | undefined, last: [ProjectedEventType, Incident]) =>
      ({ incident_id: x[1].incidentId, status: 'open', people_affected: affected, description: description ?? null, last_event_id: last[1].eventId });
    expect(rows).toEqual([
      row(a, 11, 'Actualización de cifras.', ua),
      row(b, 22, 'Actualización de cifras.', ub),
      row(c, 33, 'Actualización de cifras.', uc),
      row(d, asReported(d).people.affected ?? null, asReported(d).description, d),
      row(e, asReported(e).people.affected ?? null, asReported(e).description, e),
    ]);

    // Episodes through the direct path: a plate stolen (direct), recovered (upsert), then stolen again (upsert) is stolen with the recovery cleared.
    const stolen = sampleEvent('mingob.vehicle.reported-stolen', { occurredAt: at(30) });
    const recovered = sampleEvent('mingob.vehicle.recovered', { plate: stolen.plate, occurredAt: at(20) });
    const again = sampleEvent('mingob.vehicle.reported-stolen', { plate: stolen.plate, occurredAt: at(10) });
    expect((await write(['mingob.vehicle.reported-stolen', stolen])).paths).toEqual(['stolen_vehicles:direct:1']);
    expect((await write(['mingob.vehicle.recovered', recovered])).paths).toEqual(['stolen_vehicles:upsert:1']);
    await write(['mingob.vehicle.reported-stolen', again]);
    expect(await ctx.query(`SELECT status, recovered_at, recovery_department FROM "${schema}".stolen_vehicles WHERE plate = $1`, [stolen.plate])).toEqual([{ status: 'stolen', recovered_at: null, recovery_department: null }]);
    await ctx.query(`DROP SCHEMA "${schema}" CASCADE`);
  });

  it('the store merges as the fold does: one history written one event per batch, in one batch and split in two ends in the same rows, value_as_of included', async () => {
    const stamp = Date.now().toString(36);
    const schemas = ['one', 'all', 'split'].map((k) => `merge_${k}_${stamp}`);
    const reported = sampleEvent('conred.incident.reported', { occurredAt: at(60), description: 'Reporte inicial.' });
    const id = reported.incidentId;
    const stolen = sampleEvent('mingob.vehicle.reported-stolen', { occurredAt: at(60) });
    const history: [ProjectedEventType, EventDataMap[ProjectedEventType]][] = [
      ['conred.incident.reported', reported],
      ['mingob.vehicle.reported-stolen', stolen],
      // Newer, but says nothing of the description or the people affected.
      ['conred.incident.updated', sampleEvent('conred.incident.updated', { incidentId: id, occurredAt: at(10), description: null, people: {} })],
      ['mingob.vehicle.recovered', sampleEvent('mingob.vehicle.recovered', { plate: stolen.plate, occurredAt: at(40) })],
      // Older than that update, arriving after it: its values are the newest anyone carried.
      ['conred.incident.updated', sampleEvent('conred.incident.updated', { incidentId: id, occurredAt: at(30), description: 'Crecida del río.', people: { affected: 40 } })],
      ['conred.incident.closed', sampleEvent('conred.incident.closed', { incidentId: id, occurredAt: at(20), summary: null, people: {} })],
      // A late report older than the recovery: the recovery stands.
      ['mingob.vehicle.reported-stolen', sampleEvent('mingob.vehicle.reported-stolen', { plate: stolen.plate, vehicle: stolen.vehicle, occurredAt: at(50) })],
    ];
    const events = history.map(([type, d], i) => ({
      envelope: { eventId: d.eventId, eventType: type, source: 'X', occurredAt: d.occurredAt, topic: 'merge-test', partition: 0, offset: String(i), schemaId: 1, entityKey: 'k' },
      data: d,
    })) as StoredEvent[];
    const batchings: Record<string, StoredEvent[][]> = {
      [schemas[0]!]: events.map((e) => [e]),
      [schemas[1]!]: [events],
      [schemas[2]!]: [events.slice(0, 3), events.slice(3)],
    };
    const state: unknown[] = [];
    for (const schema of schemas) {
      await migrate({ databaseUrl: ctx.databaseUrl, schema });
      const claim = await claimPartition(ctx.pool, schema, 'merge-test', 'merge-test', 0, 'm');
      for (const batch of batchings[schema]!) {
        const client = await ctx.pool.connect();
        try {
          const next = String(Number(batch[batch.length - 1]!.envelope.offset) + 1);
          await writeBatch(client, schema, batch, [], { groupId: 'merge-test', topic: 'merge-test', partition: 0, nextOffset: next, fence: claim.fence });
        } finally {
          client.release();
        }
      }
      state.push({
        incidents: await ctx.query(`SELECT * FROM "${schema}".incidents`),
        vehicles: await ctx.query(`SELECT * FROM "${schema}".stolen_vehicles`),
      });
      await ctx.query(`DROP SCHEMA "${schema}" CASCADE`);
    }
    expect(state[1]).toEqual(state[0]);
    expect(state[2]).toEqual(state[0]);
    const { incidents, vehicles } = state[0] as { incidents: Record<string, unknown>[]; vehicles: Record<string, unknown>[] };
    expect(incidents).toHaveLength(1);
    expect(incidents[0]).toMatchObject({ status: 'open', description: 'Crecida del río.', people_affected: 40, last_event_id: history[2]![1].eventId });
    const asOf = (row: Record<string, unknown>, table: StateTable, column: string) => (row.value_as_of as Date[])[trackedColumns(table).indexOf(column)]?.toISOString() ?? null;
    expect(asOf(incidents[0]!, INCIDENTS, 'description')).toBe(history[4]![1].occurredAt);
    expect(asOf(incidents[0]!, INCIDENTS, 'status')).toBe(history[2]![1].occurredAt);
    expect(asOf(incidents[0]!, INCIDENTS, 'summary')).toBeNull();
    expect(vehicles[0]).toMatchObject({ status: 'recovered', recovery_department: (history[3]![1] as EventDataMap['mingob.vehicle.recovered']).location.departmentCode });
  });

  it('a stored row without value_as_of (written by an older projector during an upgrade) is as of its newest event: a late older event does not overwrite it', async () => {
    const schema = `legacy_${Date.now().toString(36)}`;
    await migrate({ databaseUrl: ctx.databaseUrl, schema });
    const claim = await claimPartition(ctx.pool, schema, 'legacy-test', 'legacy-test', 0, 'l');
    const reported = sampleEvent('conred.incident.reported', { occurredAt: at(30), description: 'Descripción vigente.' });
    const late = sampleEvent('conred.incident.updated', { incidentId: reported.incidentId, occurredAt: at(40), description: 'Descripción anterior.' });
    await ctx.query(
      `INSERT INTO "${schema}".incidents (incident_id, status, description, first_occurred_at, last_occurred_at, last_event_id) VALUES ($1, 'open', $2, $3, $3, $4)`,
      [reported.incidentId, reported.description, reported.occurredAt, reported.eventId],
    );
    const client = await ctx.pool.connect();
    try {
      const envelope = { eventId: late.eventId, eventType: 'conred.incident.updated' as const, source: 'X', occurredAt: late.occurredAt, topic: 'legacy-test', partition: 0, offset: '0', schemaId: 1, entityKey: 'k' };
      await writeBatch(client, schema, [{ envelope, data: late } as StoredEvent], [], { groupId: 'legacy-test', topic: 'legacy-test', partition: 0, nextOffset: '1', fence: claim.fence });
    } finally {
      client.release();
    }
    const [row] = await ctx.query(`SELECT description, department_code, value_as_of FROM "${schema}".incidents`);
    // The late event's description is older than the row: it stays; a column the row did not have is filled.
    expect(row).toMatchObject({ description: 'Descripción vigente.', department_code: late.location.departmentCode });
    const asOf = (row!.value_as_of as (Date | null)[]).map((d) => d?.toISOString() ?? null);
    expect(asOf[trackedColumns(INCIDENTS).indexOf('description')]).toBe(reported.occurredAt);
    expect(asOf[trackedColumns(INCIDENTS).indexOf('department_code')]).toBe(late.occurredAt);
    await ctx.query(`DROP SCHEMA "${schema}" CASCADE`);
  });

  it('a write that meets a lock held elsewhere gives up after its lock timeout with a transient error, and succeeds once the lock is gone', async () => {
    const schema = `locked_${Date.now().toString(36)}`;
    await migrate({ databaseUrl: ctx.databaseUrl, schema });
    const claim = await claimPartition(ctx.pool, schema, 'lock-test', 'lock-test', 0, 'k');
    const holder = await ctx.pool.connect();
    const writer = await ctx.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM "${schema}".consumer_offsets WHERE group_id = 'lock-test' FOR UPDATE`);
      const ev = sampleEvent('conred.incident.reported');
      const events = [{ envelope: { eventId: ev.eventId, eventType: 'conred.incident.reported' as const, source: 'X', occurredAt: ev.occurredAt, topic: 'lock-test', partition: 0, offset: '0', schemaId: 1, entityKey: 'k' }, data: ev } as StoredEvent];
      const commit = { groupId: 'lock-test', topic: 'lock-test', partition: 0, nextOffset: '1', fence: claim.fence };
      const started = Date.now();
      const err = await writeBatch(writer, schema, events, [], commit, undefined, 300).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: '55P03' });
      expect(isTransientStoreError(err)).toBe(true);
      expect(Date.now() - started).toBeLessThan(10_000);
      await holder.query('ROLLBACK');
      expect(await writeBatch(writer, schema, events, [], commit, undefined, 300)).toMatchObject({ newEvents: 1 });
    } finally {
      holder.release();
      writer.release();
      await ctx.query(`DROP SCHEMA "${schema}" CASCADE`);
    }
  });

  it('value_as_of names its columns in a migrated store, in trackedColumns order', async () => {
    for (const table of STATE_TABLES) {
      const [row] = await ctx.query<{ comment: string }>(
        `SELECT col_description(format('store.%I', $1::text)::regclass, a.attnum) AS comment FROM pg_attribute a
          WHERE a.attrelid = format('store.%I', $1::text)::regclass AND a.attname = 'value_as_of'`,
        [table.name],
      );
      expect(row?.comment, table.name).toBe(`as of: ${trackedColumns(table).join(', ')}`);
    }
  });

  it('movement: when recorded, then one history row; the same event again changes nothing', async () => {
    const movement = ev('igm.migratory-movement.recorded', { occurredAt: at(3) });
    const id = (movement.data as EventDataMap['igm.migratory-movement.recorded']).movementId;
    await publish(movement);
    await ctx.publish('igm.migratory-movement.recorded', movement.data as EventDataMap['igm.migratory-movement.recorded']); // a producer retry: same event id
    const marker = ev('igm.migratory-movement.recorded', { occurredAt: at(2) });
    await publish(marker);
    const rows = await ctx.query('SELECT direction, border_post_code, traveller_document_number, vehicle_plate FROM store.migratory_movements WHERE movement_id = $1', [id]);
    expect(rows).toEqual([{ direction: 'EXIT', border_post_code: 'TECUN-UMAN', traveller_document_number: '1587564440904', vehicle_plate: 'P512KLM' }]);
    const log = await ctx.query('SELECT topic, schema_id, source FROM store.event_log WHERE event_id = $1', [movement.data.eventId]);
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ topic: ctx.topicOf('igm.migratory-movement.recorded'), source: 'IGM' });
  });
});
