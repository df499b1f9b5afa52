/**
 * End to end on the real Kafka, registry and PostgreSQL: institutions publish
 * through the SDK; the projector keeps the store; the alert service raises
 * alerts; they arrive on SSE and on a webhook receiver with verified signatures.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleEvent } from '../../../contracts/index.ts';
import { createAlertService, type StoredAlert } from '../../../consumers/alerts/index.ts';
import { uniqueName } from '../../support/names.ts';
import { api, sseClient, startPipeline, waitFor, webhookReceiver, type Pipeline } from './support.ts';

const CHILD_CUI = '1580352240101';

let p: Pipeline;
let sse: Awaited<ReturnType<typeof sseClient>>;
let hook: Awaited<ReturnType<typeof webhookReceiver>>;
let secret: string;

const child = { fullName: 'María José Cabrera Ñique', birthDate: '2016-09-03', sex: 'FEMALE' as const, nationality: 'GTM', cui: CHILD_CUI, documentType: 'DPI', documentNumber: CHILD_CUI };

function byRule(alerts: StoredAlert[], rule: string): StoredAlert[] {
  return alerts.filter((a) => a.alert.rule === rule);
}

beforeAll(async () => {
  p = await startPipeline('alerts-e2e');
  hook = await webhookReceiver();
  const reg = await api<{ id: string; secret: string }>(p.url, '/v1/webhooks', { method: 'POST', body: { url: hook.url, description: 'receptor de prueba' } });
  expect(reg.status).toBe(201);
  secret = reg.body.secret;
  expect(secret).toMatch(/^whsec_/);
  sse = await sseClient(p.url);
  expect(sse.status).toBe(200);
});

afterAll(async () => {
  sse?.close();
  await hook?.close();
  await p?.close();
});

describe('alerts end to end', () => {
  it('the three correlations, published back to back (the projector race), arrive on SSE and signed webhooks', async () => {
    const pgn = p.producer('PGN');
    const igm = p.producer('IGM');
    const mingob = p.producer('MINGOB');
    const activation = sampleEvent('pgn.alba-keneth.activated', { child });
    const warrant = sampleEvent('mingob.arrest-warrant.issued', { crimeTypeCode: 'EXTORSION' });
    const theft = sampleEvent('mingob.vehicle.reported-stolen');
    await Promise.all([pgn.publish('pgn.alba-keneth.activated', activation), mingob.publish('mingob.arrest-warrant.issued', warrant), mingob.publish('mingob.vehicle.reported-stolen', theft)]);
    // Immediately: the movements may reach the alert service before the projector stored the above.
    const childExit = sampleEvent('igm.migratory-movement.recorded', { traveller: child, vehicle: null, minorAccompanied: true });
    const adultExit = sampleEvent('igm.migratory-movement.recorded', { vehicle: null });
    const carEntry = sampleEvent('igm.migratory-movement.recorded', {
      direction: 'ENTRY',
      borderPostCode: 'PEDRO-DE-ALVARADO',
      traveller: { fullName: 'Conductor Sin Antecedentes', documentType: 'PASAPORTE', documentNumber: 'X1234567', birthDate: '1990-01-01', nationality: 'SLV' },
      vehicle: { plate: theft.plate },
    });
    // Name + birth date only: a Possible match.
    const byName = sampleEvent('igm.migratory-movement.recorded', { traveller: { fullName: 'MARIA JOSE CABRERA ÑIQUE', birthDate: '2016-09-03', nationality: 'GTM', documentType: 'PASAPORTE', documentNumber: 'G7654321' }, vehicle: null });
    await Promise.all([childExit, adultExit, carEntry, byName].map((m) => igm.publish('igm.migratory-movement.recorded', m)));

    const expected = ['alba-keneth-activation', 'arrest-warrant-listed-crime', 'stolen-vehicle-report', 'movement-child-alba-keneth', 'movement-person-arrest-warrant', 'movement-stolen-vehicle'];
    await waitFor(async () => expected.every((r) => byRule(sse.alerts(), r).length > 0) && byRule(sse.alerts(), 'movement-child-alba-keneth').length >= 2, 30_000, 'alerts on SSE');
    const got = sse.alerts();
    const childAlerts = byRule(got, 'movement-child-alba-keneth');
    const exact = childAlerts.find((a) => a.alert.sourceEvents[0]!.eventId === childExit.eventId)!;
    expect(exact.alert.info).toMatchObject({ severity: 'Extreme', urgency: 'Immediate', certainty: 'Observed' });
    expect(exact.alert.status).toBe('Actual');
    const possible = childAlerts.find((a) => a.alert.sourceEvents[0]!.eventId === byName.eventId)!;
    expect(possible.alert.info.certainty).toBe('Possible');
    const warrantAlert = byRule(got, 'movement-person-arrest-warrant')[0]!;
    expect(warrantAlert.alert.info.severity).toBe('Severe');
    expect(warrantAlert.alert.sourceEvents[0]!.eventId).toBe(adultExit.eventId);
    const vehicleAlert = byRule(got, 'movement-stolen-vehicle')[0]!;
    expect(vehicleAlert.alert.info.severity).toBe('Severe');
    expect(vehicleAlert.alert.area.departmentCode).toBe('22');
    // SSE ids are increasing alert sequence numbers.
    const ids = sse.events.filter((e) => e.event === 'alert').map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);

    // Webhooks: every Actual alert, once, signed.
    await waitFor(async () => expected.every((r) => hook.received.some((w) => (JSON.parse(w.body) as { data: { rule: string } }).data.rule === r)), 20_000, 'webhooks');
    for (const w of hook.received) expect(hook.verified(w, secret)).toBe(true);
    const webhookIds = hook.received.map((w) => w.headers['webhook-id']);
    expect(new Set(webhookIds).size).toBe(webhookIds.length);
    expect(hook.verified({ ...hook.received[0]!, body: hook.received[0]!.body.replace('Actual', 'Exercise') }, secret)).toBe(false);

    // The alert is also an Avro event on the alerts topic, with the source references; CAP XML is served.
    const cap = await api(p.url, `/v1/alerts/${encodeURIComponent(exact.identifier)}.cap`);
    expect(cap.status).toBe(200);
    expect(cap.text).toContain('<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">');
    expect(cap.text).toContain(`<identifier>${exact.identifier}</identifier>`);
    expect(cap.text).toContain('<severity>Extreme</severity>');
    const feed = await api(p.url, '/v1/alerts/feed.atom');
    expect(feed.text).toContain('<feed xmlns="http://www.w3.org/2005/Atom"');
    expect(feed.text).toContain(exact.identifier);
  });

  it('lifecycle: deactivation → Cancel referencing the original; incident update → Update', async () => {
    const activation = sampleEvent('pgn.alba-keneth.activated');
    await p.producer('PGN').publish('pgn.alba-keneth.activated', activation);
    await p.producer('PGN').publish('pgn.alba-keneth.deactivated', sampleEvent('pgn.alba-keneth.deactivated', { alertId: activation.alertId }));
    const incident = sampleEvent('conred.incident.reported', { people: { affected: 150, dead: 1 } });
    await p.producer('CONRED').publish('conred.incident.reported', incident);
    await p.producer('CONRED').publish('conred.incident.updated', sampleEvent('conred.incident.updated', { incidentId: incident.incidentId, people: { affected: 400, dead: 3 } }));

    const find = (rule: string, eventId?: string) => sse.alerts().find((a) => a.alert.rule === rule && (!eventId || a.alert.sourceEvents[0]!.eventId === eventId));
    await waitFor(async () => find('alba-keneth-deactivation') && sse.alerts().some((a) => a.alert.msgType === 'Update'), 30_000, 'cancel and update');
    const original = find('alba-keneth-activation', activation.eventId)!;
    const cancel = find('alba-keneth-deactivation')!;
    expect(cancel.alert.msgType).toBe('Cancel');
    expect(cancel.alert.references).toContain(`${original.alert.sender},${original.identifier},${original.alert.sent}`);
    const update = sse.alerts().find((a) => a.alert.msgType === 'Update' && a.alert.rule === 'conred-incident-casualties')!;
    const first = sse.alerts().find((a) => a.alert.msgType === 'Alert' && a.alert.sourceEvents[0]!.eventId === incident.eventId)!;
    expect(update.alert.references).toEqual([`${first.alert.sender},${first.identifier},${first.alert.sent}`]);
    const stored = await api<StoredAlert>(p.url, `/v1/alerts/${original.identifier}`);
    expect(stored.body.cancelledBy).toBe(cancel.identifier);
  });

  it('a replay raises no duplicate Actual alert; a re-drive raises Exercise alerts only and pushes none to webhooks', async () => {
    const countByStatus = async () =>
      Object.fromEntries((await p.ctx.query<{ status: string; n: number }>(`SELECT status, count(*)::int AS n FROM alerts.alerts GROUP BY status`)).map((r) => [r.status, r.n]));
    const before = await countByStatus();
    const webhooksBefore = hook.received.length;
    // Replay: a second service instance reading every topic from the beginning under a new group.
    const replay = createAlertService({ databaseUrl: p.ctx.databaseUrl, topicPrefix: p.ctx.prefix, groupId: uniqueName('replay'), fromBeginning: true, raceWaitMs: 1_000, escalationCheckMs: 3_600_000 });
    await replay.start();
    const drill = createAlertService({ databaseUrl: p.ctx.databaseUrl, topicPrefix: p.ctx.prefix, groupId: uniqueName('drill'), fromBeginning: true, forceExercise: true, raceWaitMs: 1_000, escalationCheckMs: 3_600_000 });
    await drill.start();
    try {
      await waitFor(async () => ((await countByStatus()).Exercise ?? 0) >= (before.Actual ?? 0), 30_000, 'exercise alerts');
      await new Promise((r) => setTimeout(r, 1_500));
      const after = await countByStatus();
      expect(after.Actual).toBe(before.Actual);
      expect(after.Exercise).toBe(before.Actual);
      expect(sse.alerts().filter((a) => a.status === 'Exercise').length).toBeGreaterThan(0);
      expect(hook.received.length).toBe(webhooksBefore);
    } finally {
      await replay.stop();
      await drill.stop();
    }
  });
});
