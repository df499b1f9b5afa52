/**
 * The rules engine as given / when / then: prior alerts and store state, one
 * event, the alerts it must raise. No services: the look-ups are in memory.
 */
import { describe, expect, it } from 'vitest';
import { sampleEvent, type EventDataMap, type EventType } from '../../../contracts/index.ts';
import {
  createAlertEngine,
  loadAlertRules,
  type AlertHistory,
  type PriorAlert,
  type RaisedAlert,
  type SourceEvent,
  type StateLookups,
} from '../../../consumers/alerts/index.ts';

const rules = loadAlertRules();
const engine = createAlertEngine({ rules });

function source<T extends EventType>(type: T, data: EventDataMap[T], opts: { exercise?: boolean } = {}): SourceEvent {
  const d = data as unknown as Record<string, unknown>;
  return { type, data: d, ref: { eventId: String(d.eventId), type, source: 'PGN', topic: 't', partition: 0, offset: '1' }, ...opts };
}

function memoryHistory(raised: RaisedAlert[] = []): AlertHistory {
  return {
    async activeFor(entityKey, status): Promise<PriorAlert[]> {
      const cancelled = new Set(raised.flatMap((r) => r.cancels));
      return raised
        .filter((r) => r.entityKey === entityKey && r.alert.status === status && r.alert.msgType !== 'Cancel' && !cancelled.has(r.alert.identifier))
        .map((r) => ({ identifier: r.alert.identifier, sender: r.alert.sender, sent: r.alert.sent, rule: r.alert.rule }));
    },
  };
}

const emptyState: StateLookups = { activeAlbaKeneth: async () => null, activeWarrants: async () => null, stolenVehicle: async () => null };

describe('alert engine', () => {
  it('an Alba-Keneth activation raises one Extreme/Immediate Actual alert with a Spanish headline', async () => {
    const ev = sampleEvent('pgn.alba-keneth.activated');
    const [a, ...rest] = await engine.evaluate(source('pgn.alba-keneth.activated', ev), { state: emptyState, history: memoryHistory() });
    expect(rest).toHaveLength(0);
    expect(a!.alert).toMatchObject({ status: 'Actual', msgType: 'Alert', rule: 'alba-keneth-activation', info: { severity: 'Extreme', urgency: 'Immediate' } });
    expect(a!.alert.info.headline).toContain('Alerta Alba-Keneth');
    expect(a!.alert.area).toMatchObject({ departmentCode: '01', municipalityCode: '01' });
    expect(a!.alert.sourceEvents[0]!.eventId).toBe(ev.eventId);
  });

  it('the same event gives the same identifier; as Exercise a different one', async () => {
    const ev = source('pgn.alba-keneth.activated', sampleEvent('pgn.alba-keneth.activated'));
    const [a] = await engine.evaluate(ev, { state: emptyState, history: memoryHistory() });
    const [b] = await engine.evaluate(ev, { state: emptyState, history: memoryHistory() });
    const [x] = await engine.evaluate(ev, { state: emptyState, history: memoryHistory(), forceExercise: true });
    expect(b!.alert.identifier).toBe(a!.alert.identifier);
    expect(x!.alert.status).toBe('Exercise');
    expect(x!.alert.identifier).not.toBe(a!.alert.identifier);
  });

  it('given an activation alert, its deactivation raises a Cancel referencing it', async () => {
    const act = sampleEvent('pgn.alba-keneth.activated');
    const raised = await engine.evaluate(source('pgn.alba-keneth.activated', act), { state: emptyState, history: memoryHistory() });
    const deact = sampleEvent('pgn.alba-keneth.deactivated', { alertId: act.alertId });
    const [c] = await engine.evaluate(source('pgn.alba-keneth.deactivated', deact), { state: emptyState, history: memoryHistory(raised) });
    expect(c!.alert.msgType).toBe('Cancel');
    expect(c!.cancels).toEqual([raised[0]!.alert.identifier]);
    expect(c!.alert.references![0]).toBe(`${raised[0]!.alert.sender},${raised[0]!.alert.identifier},${raised[0]!.alert.sent}`);
  });

  it('a deactivation with nothing to cancel raises nothing', async () => {
    const deact = sampleEvent('pgn.alba-keneth.deactivated');
    expect(await engine.evaluate(source('pgn.alba-keneth.deactivated', deact), { state: emptyState, history: memoryHistory() })).toEqual([]);
  });

  it('an incident over the threshold raises an Alert, its update an Update; below the threshold nothing', async () => {
    const rep = sampleEvent('conred.incident.reported', { people: { affected: 10, dead: 2 } });
    const raised = await engine.evaluate(source('conred.incident.reported', rep), { state: emptyState, history: memoryHistory() });
    expect(raised[0]!.alert.msgType).toBe('Alert');
    const upd = sampleEvent('conred.incident.updated', { incidentId: rep.incidentId, people: { affected: 300, dead: 3 } });
    const [u] = await engine.evaluate(source('conred.incident.updated', upd), { state: emptyState, history: memoryHistory(raised) });
    expect(u!.alert.msgType).toBe('Update');
    expect(u!.alert.references).toHaveLength(1);
    const calm = sampleEvent('conred.incident.reported', { people: { affected: 5 } });
    expect(await engine.evaluate(source('conred.incident.reported', calm), { state: emptyState, history: memoryHistory() })).toEqual([]);
  });

  it('an arrest warrant alerts only for a listed crime type', async () => {
    const listed = sampleEvent('mingob.arrest-warrant.issued', { crimeTypeCode: 'SECUESTRO' });
    const other = sampleEvent('mingob.arrest-warrant.issued', { crimeTypeCode: 'HURTO' });
    expect(await engine.evaluate(source('mingob.arrest-warrant.issued', listed), { state: emptyState, history: memoryHistory() })).toHaveLength(1);
    expect(await engine.evaluate(source('mingob.arrest-warrant.issued', other), { state: emptyState, history: memoryHistory() })).toHaveLength(0);
  });

  it('a movement matched only by name and birth date is Possible; by CUI Observed', async () => {
    const mv = sampleEvent('igm.migratory-movement.recorded', { vehicle: null });
    const byName: StateLookups = { ...emptyState, activeWarrants: async () => ({ basis: 'name-birthdate', rows: [{ warrant_id: 'W1', crime_type_code: 'EXTORSION' }] }) };
    const byCui: StateLookups = { ...emptyState, activeWarrants: async () => ({ basis: 'cui', rows: [{ warrant_id: 'W1', crime_type_code: 'EXTORSION' }] }) };
    const [p] = await engine.evaluate(source('igm.migratory-movement.recorded', mv), { state: byName, history: memoryHistory() });
    const [o] = await engine.evaluate(source('igm.migratory-movement.recorded', mv), { state: byCui, history: memoryHistory() });
    expect(p!.alert).toMatchObject({ rule: 'movement-person-arrest-warrant', info: { severity: 'Severe', certainty: 'Possible' } });
    expect(o!.alert.info.certainty).toBe('Observed');
    expect(p!.alert.area.areaDesc).toContain('Tecún Umán');
  });

  it('a movement of a child under an active Alba-Keneth is Extreme', async () => {
    const mv = sampleEvent('igm.migratory-movement.recorded', { vehicle: null });
    const state: StateLookups = { ...emptyState, activeAlbaKeneth: async () => ({ basis: 'document', rows: [{ alert_id: 'AK-1', child_full_name: 'X' }] }) };
    const [a] = await engine.evaluate(source('igm.migratory-movement.recorded', mv), { state, history: memoryHistory() });
    expect(a!.alert.info.severity).toBe('Extreme');
    expect(a!.entityKey).toBe('alba-keneth:AK-1');
  });

  it('an escalation references the original and is raised once per alert', () => {
    const orig = sampleEvent('st.alert.issued', { identifier: 'SNS-ST-x-1' });
    const a = engine.escalation(orig, 600_000);
    expect(a.alert.references).toEqual([`${orig.sender},${orig.identifier},${orig.sent}`]);
    expect(engine.escalation(orig, 600_000).alert.identifier).toBe(a.alert.identifier);
    expect(a.alert.info.headline).toMatch(/^ESCALAMIENTO/);
  });
});
