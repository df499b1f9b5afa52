/**
 * The query API and the current-state look-ups against a real PostgreSQL
 * store filled through the projection's own write path (no Kafka needed).
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildQueryApi, createCurrentState, createStorePool, migrate, type ProjectedEventType, type StoredEvent } from '../../consumers/index.ts';
import { claimPartition, writeBatch } from '../../consumers/store.ts';
import { sampleEvent, type EventDataMap } from '../../contracts/index.ts';
import { databaseUrlFor, readEndpoints } from '../../core/index.ts';
import { uniqueName } from '../support/names.ts';

const TOKEN = 'test-token';
const auth = { authorization: `Bearer ${TOKEN}` };

describe('query API', () => {
  const database = uniqueName('test_query_api').replace(/[^a-z0-9]/g, '_');
  let pool: pg.Pool;
  let app: FastifyInstance;
  let offset = 0;
  const incidents: string[] = [];
  let warrantId = '';
  let stolenPlate = '';
  let eventId = '';
  const registrations: string[] = [];

  async function store(...events: { type: ProjectedEventType; data: EventDataMap[ProjectedEventType] }[]): Promise<void> {
    const stored: StoredEvent[] = events.map((e) => ({
      envelope: {
        eventId: e.data.eventId, eventType: e.type, source: 'TEST', occurredAt: e.data.occurredAt, topic: 't', partition: 0,
        offset: String(offset++), schemaId: 1, entityKey: 'k',
      },
      data: e.data,
    }));
    const claim = await claimPartition(pool, 'store', 'g', 't', 0, 'm');
    const client = await pool.connect();
    try {
      await writeBatch(client, 'store', stored, [], { groupId: 'g', topic: 't', partition: 0, nextOffset: String(offset), fence: claim.fence });
    } finally {
      client.release();
    }
  }

  beforeAll(async () => {
    const server = new pg.Client({ connectionString: readEndpoints().databaseUrl });
    await server.connect();
    await server.query(`CREATE DATABASE ${database}`);
    await server.end();
    await migrate({ databaseUrl: databaseUrlFor(database) });
    pool = createStorePool(databaseUrlFor(database));
    for (let i = 0; i < 5; i++) {
      const e = sampleEvent('conred.incident.reported', { occurredAt: new Date(Date.now() - (10 - i) * 60_000).toISOString() });
      incidents.push(e.incidentId);
      await store({ type: 'conred.incident.reported', data: e });
    }
    const other = sampleEvent('conred.incident.reported', { location: { departmentCode: '01', municipalityCode: '01' } });
    await store({ type: 'conred.incident.reported', data: other });
    const warrant = sampleEvent('mingob.arrest-warrant.issued');
    warrantId = warrant.warrantId;
    eventId = warrant.eventId;
    const stolen = sampleEvent('mingob.vehicle.reported-stolen');
    stolenPlate = stolen.plate;
    await store(
      { type: 'mingob.arrest-warrant.issued', data: warrant },
      { type: 'mingob.vehicle.reported-stolen', data: stolen },
      { type: 'pgn.alba-keneth.activated', data: sampleEvent('pgn.alba-keneth.activated') },
      { type: 'igm.migratory-movement.recorded', data: sampleEvent('igm.migratory-movement.recorded') },
    );
    // Three registrations of the same person in the USA (older to newer), one of somebody else in Mexico.
    for (const registeredOn of ['2023-01-10', '2024-03-18', '2025-06-02']) {
      const r = sampleEvent('minex.citizen-abroad.registered', { registeredOn });
      registrations.push(r.registrationId);
      await store({ type: 'minex.citizen-abroad.registered', data: r });
    }
    await store({
      type: 'minex.citizen-abroad.registered',
      data: sampleEvent('minex.citizen-abroad.registered', {
        person: { fullName: 'Ana Lucía Ñique', documentType: 'PASAPORTE', documentNumber: 'AB-123456' }, countryOfResidence: 'MEX', consulate: 'Consulado de Guatemala en Tapachula',
      }),
    });
    app = await buildQueryApi({ pool, tokens: [`${TOKEN}:analyst`] });
  });

  afterAll(async () => {
    await app?.close();
    await pool?.end();
    const server = new pg.Client({ connectionString: readEndpoints().databaseUrl });
    await server.connect();
    await server.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await server.end();
  });

  it('refuses a request without a valid token, in Spanish, as { code, message }', async () => {
    const r = await app.inject({ url: '/v1/incidents' });
    expect(r.statusCode).toBe(401);
    expect(r.json()).toEqual({ code: 'BUS_ERR_AUTH', message: expect.stringContaining('Se requiere un token') });
    expect((await app.inject({ url: '/v1/incidents', headers: { authorization: 'Bearer nope' } })).statusCode).toBe(401);
  });

  it('pages incidents of a department with a cursor, newest first, without gaps or repeats', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const r = await app.inject({ url: `/v1/incidents?department=05&limit=2${cursor ? `&cursor=${cursor}` : ''}`, headers: auth });
      expect(r.statusCode).toBe(200);
      const body = r.json() as { items: { incidentId: string; departmentCode: string; people: Record<string, number> }[]; nextCursor: string | null };
      expect(body.items.every((i) => i.departmentCode === '05')).toBe(true);
      seen.push(...body.items.map((i) => i.incidentId));
      cursor = body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...incidents].reverse());
  });

  it('validates the query string and answers 400 in Spanish', async () => {
    const r = await app.inject({ url: '/v1/incidents?department=5&status=maybe', headers: auth });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ code: 'BUS_ERR_VALIDATION', message: expect.stringContaining('Parámetros inválidos') });
    expect((await app.inject({ url: '/v1/incidents?cursor=garbage', headers: auth })).json()).toMatchObject({ code: 'BUS_ERR_VALIDATION' });
  });

  it('serves vehicles by plate (normalised), warrants by CUI, movements by document, active alerts and the event log', async () => {
    const plateWithDash = `${stolenPlate.slice(0, 1)}-${stolenPlate.slice(1).toLowerCase()}`;
    expect((await app.inject({ url: `/v1/vehicles/${plateWithDash}`, headers: auth })).json()).toMatchObject({ plate: stolenPlate, status: 'stolen' });
    expect((await app.inject({ url: '/v1/vehicles/P000ZZZ', headers: auth })).json()).toMatchObject({ code: 'BUS_ERR_NOT_FOUND' });
    const warrants = (await app.inject({ url: '/v1/warrants?cui=1587564440904', headers: auth })).json() as { items: { warrantId: string }[] };
    expect(warrants.items.map((w) => w.warrantId)).toContain(warrantId);
    const movements = (await app.inject({ url: '/v1/movements?documentNumber=1587564440904', headers: auth })).json() as { items: unknown[] };
    expect(movements.items).toHaveLength(1);
    expect((await app.inject({ url: '/v1/movements', headers: auth })).statusCode).toBe(400);
    const alerts = (await app.inject({ url: '/v1/alba-keneth/active', headers: auth })).json() as { items: { childBirthDate: string }[] };
    expect(alerts.items[0]!.childBirthDate).toBe('2016-09-03');
    expect((await app.inject({ url: `/v1/events/${eventId}`, headers: auth })).json()).toMatchObject({ eventId, eventType: 'mingob.arrest-warrant.issued' });
    expect((await app.inject({ url: `/v1/events/${randomUUID()}`, headers: auth })).statusCode).toBe(404);
  });

  it('warrant cursor with NULL issued_at: pages a warrant known only from its closed event without a 500, gaps or repeats', async () => {
    const cui = '2222222220101';
    const issued = [0, 1].map((i) =>
      sampleEvent('mingob.arrest-warrant.issued', {
        warrantId: `NULL-SORT-${i}`, person: { cui, fullName: 'Persona de Prueba' }, occurredAt: new Date(Date.now() - (5 - i) * 60_000).toISOString(),
      }),
    );
    const closed = sampleEvent('mingob.arrest-warrant.closed', { warrantId: 'NULL-SORT-closed-only' });
    await store(...issued.map((data) => ({ type: 'mingob.arrest-warrant.issued' as const, data })), { type: 'mingob.arrest-warrant.closed', data: closed });
    // The closed event carries no person: attach the row to the CUI as a matched (or earlier-projected) row would be.
    await pool.query(`UPDATE store.arrest_warrants SET person_cui = $1 WHERE warrant_id = $2`, [cui, closed.warrantId]);
    expect((await pool.query(`SELECT issued_at FROM store.arrest_warrants WHERE warrant_id = $1`, [closed.warrantId])).rows[0]).toEqual({ issued_at: null });

    for (const filter of ['', '&status=closed']) {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const r = await app.inject({ url: `/v1/warrants?cui=${cui}${filter}&limit=1${cursor ? `&cursor=${cursor}` : ''}`, headers: auth });
        expect(r.statusCode, r.body).toBe(200);
        const body = r.json() as { items: { warrantId: string }[]; nextCursor: string | null };
        seen.push(...body.items.map((w) => w.warrantId));
        cursor = body.nextCursor;
      } while (cursor);
      expect(seen, filter).toEqual(filter ? [closed.warrantId] : [closed.warrantId, 'NULL-SORT-1', 'NULL-SORT-0']);
    }
    // A cursor whose sort key is null or no timestamp is a 400, never a 500.
    for (const key of [null, 'not-a-time']) {
      const cursor = Buffer.from(JSON.stringify([key, 'x'])).toString('base64url');
      const r = await app.inject({ url: `/v1/warrants?cui=${cui}&cursor=${cursor}`, headers: auth });
      expect(r.statusCode, String(key)).toBe(400);
      expect(r.json()).toMatchObject({ code: 'BUS_ERR_VALIDATION' });
    }
  });

  it('serves Guatemalans abroad by CUI, document number or country, newest registration first, paged by cursor', async () => {
    type Page = { items: { registrationId: string; countryOfResidence: string; personDocumentNumber: string; registeredOn: string }[]; nextCursor: string | null };
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const r = await app.inject({ url: `/v1/citizens-abroad?cui=1587564440904&limit=2${cursor ? `&cursor=${cursor}` : ''}`, headers: auth });
      expect(r.statusCode).toBe(200);
      const body = r.json() as Page;
      seen.push(...body.items.map((i) => i.registrationId));
      cursor = body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...registrations].reverse());

    const byDocument = (await app.inject({ url: '/v1/citizens-abroad?documentNumber=ab 123456', headers: auth })).json() as Page;
    expect(byDocument.items).toEqual([expect.objectContaining({ countryOfResidence: 'MEX', personDocumentNumber: 'AB123456' })]);
    const byCountry = (await app.inject({ url: '/v1/citizens-abroad?country=usa', headers: auth })).json() as Page;
    expect(byCountry.items.map((i) => i.registrationId)).toEqual([...registrations].reverse());
    expect(byCountry.items[0]).toMatchObject({ registeredOn: '2025-06-02', personDocumentNumber: '254369871' });
    expect(byCountry.items[0]).not.toHaveProperty('phone');
    const none = (await app.inject({ url: '/v1/citizens-abroad?cui=1587564440904&country=MEX', headers: auth })).json() as Page;
    expect(none).toEqual({ items: [], nextCursor: null });
  });

  it('refuses a citizens-abroad query without a filter or with a bad one, in Spanish', async () => {
    for (const url of ['/v1/citizens-abroad', '/v1/citizens-abroad?country=US', '/v1/citizens-abroad?cui=123', '/v1/citizens-abroad?country=USA&cursor=garbage']) {
      const r = await app.inject({ url, headers: auth });
      expect(r.statusCode, url).toBe(400);
      expect(r.json(), url).toMatchObject({ code: 'BUS_ERR_VALIDATION', message: expect.stringMatching(/Parámetros inválidos|cursor/) });
    }
    expect((await app.inject({ url: '/v1/citizens-abroad?country=USA' })).statusCode).toBe(401);
  });

  it('publishes OpenAPI at /docs', async () => {
    const r = await app.inject({ url: '/docs/json' });
    expect(r.statusCode).toBe(200);
    expect(Object.keys((r.json() as { paths: object }).paths)).toEqual(expect.arrayContaining(['/v1/incidents', '/v1/vehicles/{plate}', '/v1/citizens-abroad', '/v1/events/{id}']));
  });

  it('current state for correlation: CUI first, then document, then name + birth date (possible)', async () => {
    const state = createCurrentState(pool);
    expect((await state.activeWarrants({ cui: '1587564440904' }))?.basis).toBe('cui');
    expect((await state.activeWarrants({ documentNumber: '1587 56444 0904' }))?.basis).toBe('document');
    const byName = await state.activeAlbaKeneth({ fullName: 'maria jose CABRERA ñique', birthDate: '2016-09-03' });
    expect(byName?.basis).toBe('name-birthdate');
    expect(await state.activeAlbaKeneth({ fullName: 'Otra Persona', birthDate: '2016-09-03' })).toBeNull();
    expect(await state.stolenVehicle(stolenPlate.toLowerCase())).toMatchObject({ plate: stolenPlate, status: 'stolen' });
  });
});
