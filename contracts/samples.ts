/**
 * `sampleEvent(type, overrides?)`: a VALID event of each type with a fresh
 * event id, a fresh entity id (the Kafka key) and the current time. Tests and
 * the benchmark call it in loops, so it only spreads a frozen template; nested
 * objects are shared and frozen, so copy before mutating them.
 */
import { randomUUID } from 'node:crypto';
import { BusError } from '../core/errors.ts';
import type { EventDataMap, EventType, Location, PersonRef } from './generated/types.ts';

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

const ZONA_1: Location = {
  departmentCode: '01',
  municipalityCode: '01',
  village: 'Zona 1',
  latitude: 14.6349,
  longitude: -90.5069,
};
const SIPACATE: Location = { departmentCode: '05', municipalityCode: '14', village: 'Aldea El Paredón' };
const PETATAN: Location = { departmentCode: '13', municipalityCode: '33' };
const ADULT: PersonRef = {
  cui: '1587564440904',
  nit: '576937-K',
  fullName: 'José Ángel Núñez Pérez',
  firstNames: 'José Ángel',
  lastNames: 'Núñez Pérez',
  birthDate: '1985-04-12',
  sex: 'MALE',
  nationality: 'GTM',
};
const CHILD: PersonRef = {
  fullName: 'María José Cabrera Ñique',
  birthDate: '2016-09-03',
  sex: 'FEMALE',
  nationality: 'GTM',
};
const REPORTER: PersonRef = { cui: '1580352240101', fullName: 'Ana Lucía Ñique de Cabrera', sex: 'FEMALE' };
const PEOPLE = {
  atRisk: 120,
  affected: 45,
  damnified: 12,
  evacuated: 30,
  attended: 25,
  sheltered: 18,
  missing: 0,
  injured: 2,
  dead: 0,
};
const HOUSES = { atRisk: 40, lightDamage: 10, moderateDamage: 4, severeDamage: 1 };
const INFRA = { roadsAffected: 2, bridgesAffected: 1 };

type Template = { [T in EventType]: Omit<EventDataMap[T], 'eventId' | 'occurredAt'> };

const TEMPLATES: Template = deepFreeze({
  'conred.incident.reported': {
    incidentId: '',
    incidentType: 'INUNDACION',
    location: SIPACATE,
    startedAt: '2025-10-01T05:30:00-06:00',
    description: 'Desbordamiento del río Achiguate; familias evacuadas.',
    people: PEOPLE,
    houses: HOUSES,
    infrastructure: INFRA,
  },
  'conred.incident.updated': {
    incidentId: '',
    incidentType: 'INUNDACION',
    location: SIPACATE,
    description: 'Actualización de cifras.',
    people: { ...PEOPLE, sheltered: 25 },
    houses: HOUSES,
    infrastructure: INFRA,
  },
  'conred.incident.closed': {
    incidentId: '',
    summary: 'Evento finalizado.',
    people: PEOPLE,
    houses: HOUSES,
    infrastructure: INFRA,
  },
  'pgn.alba-keneth.activated': {
    alertId: '',
    child: CHILD,
    ageYears: 9,
    homeAddress: ZONA_1,
    physicalDescription: 'Tez morena, cabello negro largo, 1.30 m, blusa roja y pantalón de lona.',
    disappearancePlace: ZONA_1,
    disappearedAt: '2025-11-20T16:45:00-06:00',
    photoUrl: 'https://pgn.gob.gt/alertas/foto.jpg',
    reporter: REPORTER,
    reporterRelationship: 'madre',
    reporterPhone: '+502 5555 1234',
  },
  'pgn.alba-keneth.deactivated': { alertId: '', reasonCode: 'LOCALIZADO', locatedAt: PETATAN, notes: null },
  'igm.migratory-movement.recorded': {
    movementId: '',
    direction: 'EXIT',
    borderPostCode: 'TECUN-UMAN',
    traveller: { ...ADULT, documentType: 'DPI', documentNumber: '1587564440904' },
    reason: 'TURISMO',
    minorAccompanied: null,
    vehicle: { plate: 'P512KLM', brand: 'Toyota', line: 'Hilux', model: 2019, colour: 'Blanco' },
  },
  'mingob.vehicle.reported-stolen': {
    plate: '',
    vehicle: { plate: '' },
    stolenAt: '2025-12-01T22:10:00-06:00',
    location: ZONA_1,
    reportNumber: 'DEN-2025-004512',
    owner: ADULT,
  },
  'mingob.vehicle.recovered': {
    plate: '',
    location: PETATAN,
    reportNumber: 'DEN-2025-004512',
    notes: 'Sin placas traseras.',
  },
  'mingob.arrest-warrant.issued': {
    warrantId: '',
    person: ADULT,
    crimeTypeCode: 'EXTORSION',
    court: 'Juzgado Primero de Primera Instancia Penal de Guatemala',
    caseNumber: '01079-2025-00123',
    issuedAt: '2025-09-15T09:00:00-06:00',
  },
  'mingob.arrest-warrant.closed': { warrantId: '', closureReason: 'SERVED', location: ZONA_1, notes: null },
  'minex.citizen-abroad.registered': {
    registrationId: '',
    person: { ...ADULT, documentType: 'PASAPORTE', documentNumber: '254369871' },
    countryOfResidence: 'USA',
    consulate: 'Consulado General de Guatemala en Los Ángeles',
    city: 'Los Ángeles',
    registeredOn: '2024-03-18',
    phone: '+1 213 555 0142',
  },
  'st.alert.issued': {
    identifier: '',
    sender: 'alertas@sns.gob.gt',
    sent: '2025-10-01T05:31:00-06:00',
    status: 'Exercise',
    msgType: 'Alert',
    scope: 'Restricted',
    references: [],
    rule: 'conred-incident-casualties',
    audience: 'Secretaría Técnica del CNS',
    info: {
      language: 'es-GT',
      category: ['Geo'],
      event: 'Inundación',
      urgency: 'Immediate',
      severity: 'Severe',
      certainty: 'Observed',
      headline: 'Inundación en Sipacate, Escuintla',
      description: 'Incidente reportado por CONRED con personas afectadas.',
      instruction: null,
      expires: null,
    },
    area: { areaDesc: 'Sipacate, Escuintla', departmentCode: '05', municipalityCode: '14', circle: null },
    sourceEvents: [],
  },
} satisfies Template);

const ENTITY_ID_FIELD: { [T in EventType]: keyof EventDataMap[T] & string } = {
  'conred.incident.reported': 'incidentId',
  'conred.incident.updated': 'incidentId',
  'conred.incident.closed': 'incidentId',
  'pgn.alba-keneth.activated': 'alertId',
  'pgn.alba-keneth.deactivated': 'alertId',
  'igm.migratory-movement.recorded': 'movementId',
  'mingob.vehicle.reported-stolen': 'plate',
  'mingob.vehicle.recovered': 'plate',
  'mingob.arrest-warrant.issued': 'warrantId',
  'mingob.arrest-warrant.closed': 'warrantId',
  'minex.citizen-abroad.registered': 'registrationId',
  'st.alert.issued': 'identifier',
};

const RUN = randomUUID().slice(0, 8);
let sequence = 0;
const LETTERS = 'ABCDEFGHJKLMNPRSTVWXYZ';

/** A plate `P<3 digits><3 letters>` that changes with `n` (17 576 × 1000 values). */
function plateFor(n: number): string {
  const digits = String(n % 1000).padStart(3, '0');
  let k = Math.floor(n / 1000) + Math.floor(Math.random() * 10_000);
  let letters = '';
  for (let i = 0; i < 3; i++, k = Math.floor(k / LETTERS.length)) letters += LETTERS[k % LETTERS.length];
  return `P${digits}${letters}`;
}

/**
 * Builds a valid event of `eventType` with a fresh `eventId`, a fresh entity id
 * (incidentId, alertId, movementId, plate or warrantId), `occurredAt` = now,
 * then applies `overrides` (shallow).
 */
export function sampleEvent<T extends EventType>(eventType: T, overrides?: Partial<EventDataMap[T]>): EventDataMap[T] {
  const template = TEMPLATES[eventType] as Record<string, unknown> | undefined;
  if (template === undefined)
    throw new BusError('BUS_ERR_UNKNOWN_EVENT_TYPE', `sampleEvent: unknown event type "${String(eventType)}"`);
  const n = ++sequence;
  const idField = ENTITY_ID_FIELD[eventType];
  const id = idField === 'plate' ? plateFor(n) : `${RUN}-${n}`;
  const event: Record<string, unknown> = {
    eventId: randomUUID(),
    occurredAt: new Date().toISOString(),
    ...template,
    [idField]: id,
  };
  if (eventType === 'mingob.vehicle.reported-stolen')
    event.vehicle = { plate: id, brand: 'Nissan', line: 'Sentra', model: 2017, colour: 'Gris' };
  return (overrides === undefined ? event : Object.assign(event, overrides)) as unknown as EventDataMap[T];
}

/** The name of the entity-id field (the natural Kafka key) of each event type. */
export const ENTITY_ID_FIELDS: Readonly<typeof ENTITY_ID_FIELD> = Object.freeze(ENTITY_ID_FIELD);
