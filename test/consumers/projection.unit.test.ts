/**
 * The projection as a pure function: folding is order-insensitive per entity
 * (per column, the newest event that carries a value wins) and associative
 * (any batching folds alike), so a replay rebuilds the same state.
 */
import { describe, expect, it } from 'vitest';
import { INCIDENTS, mergeRows, normalizeName, projectBatch, type ProjectedEventType, type Row, type StoredEvent } from '../../consumers/index.ts';
import { sampleEvent, type EventDataMap } from '../../contracts/index.ts';

let offset = 0;
function stored<T extends ProjectedEventType>(type: T, data: EventDataMap[T]): StoredEvent {
  return {
    envelope: { eventId: data.eventId, eventType: type, source: 'TEST', occurredAt: data.occurredAt, topic: 't', partition: 0, offset: String(offset++), schemaId: 1, entityKey: 'k' },
    data,
  } as StoredEvent;
}
const at = (min: number) => new Date(Date.UTC(2026, 0, 1, 12, min)).toISOString();

describe('projectBatch', () => {
  it('given reported, closed and a late older update, then the fold is the same in any order', () => {
    const reported = sampleEvent('conred.incident.reported', { occurredAt: at(0) });
    const id = reported.incidentId;
    const closed = sampleEvent('conred.incident.closed', { incidentId: id, occurredAt: at(20), people: { affected: 3 } });
    const updated = sampleEvent('conred.incident.updated', { incidentId: id, occurredAt: at(10), people: { affected: 50 } });
    const events = [stored('conred.incident.reported', reported), stored('conred.incident.closed', closed), stored('conred.incident.updated', updated)];
    const rowOf = (evs: StoredEvent[]) => [...projectBatch(evs).state.values()][0]!.get(id)!;
    const inOrder = rowOf(events);
    expect(inOrder).toMatchObject({ status: 'closed', people_affected: 3, started_at: reported.startedAt, last_event_id: closed.eventId, first_occurred_at: at(0) });
    expect(rowOf([events[2]!, events[1]!, events[0]!])).toEqual(inOrder);
    expect(rowOf([events[1]!, events[0]!, events[2]!])).toEqual(inOrder);
  });

  it('vehicle stolen again after its recovery: given stolen T1, recovered T2, when stolen T3, then stolen with no recovery, in any order', () => {
    const first = sampleEvent('mingob.vehicle.reported-stolen', { occurredAt: at(0) });
    const plate = first.plate;
    const recovered = sampleEvent('mingob.vehicle.recovered', { plate, occurredAt: at(10) });
    const again = sampleEvent('mingob.vehicle.reported-stolen', { plate, vehicle: first.vehicle, occurredAt: at(20), reportNumber: 'DEN-2026-0002' });
    const events = [stored('mingob.vehicle.reported-stolen', first), stored('mingob.vehicle.recovered', recovered), stored('mingob.vehicle.reported-stolen', again)];
    const rowOf = (evs: StoredEvent[]) => [...projectBatch(evs).state.values()][0]!.get(plate)!;
    const inOrder = rowOf(events);
    expect(inOrder).toMatchObject({
      status: 'stolen', reported_at: at(20), report_number: 'DEN-2026-0002', recovered_at: null, recovery_department: null, recovery_municipality: null,
      first_occurred_at: at(0), last_event_id: again.eventId,
    });
    for (const order of [[0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]]) expect(rowOf(order.map((i) => events[i]!)), String(order)).toEqual(inOrder);
    // Without the new theft the recovery stands, in any order.
    expect(rowOf(events.slice(0, 2))).toMatchObject({ status: 'recovered', recovered_at: at(10), recovery_department: recovered.location.departmentCode });
    expect(rowOf([events[1]!, events[0]!])).toEqual(rowOf(events.slice(0, 2)));
  });

  it('given a newer event without a value and an older one with a value arriving after it, then the older value wins however the events are batched', () => {
    const reported = sampleEvent('conred.incident.reported', { occurredAt: at(0), description: 'Reporte inicial.' });
    const id = reported.incidentId;
    const newerBlank = sampleEvent('conred.incident.updated', { incidentId: id, occurredAt: at(30), description: null, people: {} });
    const olderLate = sampleEvent('conred.incident.updated', { incidentId: id, occurredAt: at(10), description: 'Crecida del río.', people: { affected: 40 } });
    const events = [stored('conred.incident.reported', reported), stored('conred.incident.updated', newerBlank), stored('conred.incident.updated', olderLate)];
    const fold = (evs: StoredEvent[]) => [...projectBatch(evs).state.values()][0]!.get(id)!;
    const whole = fold(events);
    // The newest event that says anything about them: the late update (10), not the report (0); the blank update (30) says nothing.
    expect(whole).toMatchObject({ description: 'Crecida del río.', people_affected: 40, last_event_id: newerBlank.eventId, details_as_of: at(30) });
    // The live projector's one-event batches and a replay's one big batch end the same.
    const oneByOne = events.map((e) => fold([e])).reduce((a, b) => mergeRows(a, b, INCIDENTS));
    expect(oneByOne).toEqual(whole);
    expect(mergeRows(fold(events.slice(0, 2)), fold(events.slice(2)), INCIDENTS)).toEqual(whole);
    expect(mergeRows(fold(events.slice(0, 1)), fold(events.slice(1)), INCIDENTS)).toEqual(whole);
  });

  it('the merge is associative: random histories of one incident fold alike at every split, and value_as_of gives each value its event time', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    for (let round = 0; round < 200; round++) {
      const base = sampleEvent('conred.incident.reported', { occurredAt: at(Math.floor(random() * 60)) });
      const id = base.incidentId;
      const events: StoredEvent[] = [stored('conred.incident.reported', base)];
      for (let k = 1 + Math.floor(random() * 6); k > 0; k--) {
        const occurredAt = at(Math.floor(random() * 60));
        const kind = pick(['updated', 'closed', 'reported'] as const);
        if (kind === 'updated') {
          events.push(stored('conred.incident.updated', sampleEvent('conred.incident.updated', {
            incidentId: id, occurredAt, description: pick([null, 'a', 'b']), people: { affected: pick([undefined, 1, 2, 3]) },
          })));
        } else if (kind === 'closed') {
          events.push(stored('conred.incident.closed', sampleEvent('conred.incident.closed', { incidentId: id, occurredAt, summary: pick([null, 's']), people: { affected: pick([undefined, 9]) } })));
        } else {
          events.push(stored('conred.incident.reported', sampleEvent('conred.incident.reported', { incidentId: id, occurredAt, description: pick([null, 'r']) })));
        }
      }
      const fold = (evs: StoredEvent[]): Row => [...projectBatch(evs).state.values()][0]!.get(id)!;
      const whole = fold(events);
      for (let split = 1; split < events.length; split++) {
        expect(mergeRows(fold(events.slice(0, split)), fold(events.slice(split)), INCIDENTS), `round ${round}, split ${split}`).toEqual(whole);
      }
      // Each column's "as of" is the time of an event that carried exactly that value, and no later event carried one.
      const tracked = Object.keys(INCIDENTS.columns).filter((c) => !['incident_id', 'first_occurred_at', 'last_occurred_at', 'last_event_id', 'value_as_of'].includes(c));
      const asOf = whole.value_as_of as (string | null)[];
      expect(asOf).toHaveLength(tracked.length);
      tracked.forEach((c, i) => {
        const carriers = events.map((e) => ({ at: e.envelope.occurredAt, row: fold([e]) })).filter((x) => x.row[c] !== null && x.row[c] !== undefined);
        if (carriers.length === 0) return expect([whole[c] ?? null, asOf[i]], c).toEqual([null, null]);
        const newest = carriers.reduce((m, x) => (x.at >= m.at ? x : m));
        expect(asOf[i], c).toBe(newest.at);
      });
    }
  });

  it('keeps movements as history rows, one per event', () => {
    const a = sampleEvent('igm.migratory-movement.recorded');
    const b = sampleEvent('igm.migratory-movement.recorded');
    const out = projectBatch([stored('igm.migratory-movement.recorded', a), stored('igm.migratory-movement.recorded', b)]);
    expect(out.movements.map((m) => m.movement_id)).toEqual([a.movementId, b.movementId]);
    expect(out.movements[0]).toMatchObject({ traveller_name_normalized: 'JOSE ANGEL NUNEZ PEREZ', traveller_birth_date: '1985-04-12' });
  });

  it('given a registration abroad and a later confirmation, then one row per registration, newest wins in any order', () => {
    const first = sampleEvent('minex.citizen-abroad.registered', { occurredAt: at(0) });
    const id = first.registrationId;
    const person = { ...first.person, documentNumber: '2543-69871' };
    const confirmed = sampleEvent('minex.citizen-abroad.registered', { registrationId: id, occurredAt: at(30), person, countryOfResidence: 'CAN', city: null });
    const events = [stored('minex.citizen-abroad.registered', first), stored('minex.citizen-abroad.registered', confirmed)];
    const rowsOf = (evs: StoredEvent[]) => [...projectBatch(evs).state.values()][0]!;
    const inOrder = rowsOf(events);
    expect(inOrder.size).toBe(1);
    expect(inOrder.get(id)).toMatchObject({
      country_of_residence: 'CAN', city: first.city, person_name_normalized: 'JOSE ANGEL NUNEZ PEREZ', person_document_number: '254369871',
      registered_on: '2024-03-18', first_occurred_at: at(0), last_event_id: confirmed.eventId,
    });
    expect(rowsOf([events[1]!, events[0]!])).toEqual(inOrder);
  });

  it('normalises names for matching: accents, case, punctuation and spacing', () => {
    expect(normalizeName('  José  Ángel Núñez-Pérez ')).toBe('JOSE ANGEL NUNEZ PEREZ');
    expect(normalizeName('')).toBeNull();
    // The ASCII fast path gives what the full Unicode path gives.
    const reference = (n: string) => n.normalize('NFD').replace(/\p{M}+/gu, '').toUpperCase().replace(/[^A-Z]+/g, ' ').trim() || null;
    for (const n of ["Maria O'Brien-Lopez", 'juan  perez 3rd', 'Ñoño Ümlaut', 'straße', '---', 'ａｂｃ', 'Zoë']) expect(normalizeName(n), n).toBe(reference(n));
  });
});
