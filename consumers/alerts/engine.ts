/**
 * The rules engine: `evaluate(event, context)` → the alerts one source event
 * raises. Pure apart from the two look-ups the context provides (the store's
 * current state for correlation, earlier alerts for Update and Cancel), so the
 * live service, the replay re-drive and the tests all call the same function.
 *
 * Identifiers are deterministic: a hash of the rule, the source event id, the
 * correlated row and the CAP status. The same source event therefore never
 * raises the same alert twice (the alerts table has a unique constraint on
 * it), and a re-drive as Exercise gets identifiers of its own.
 */
import { createHash } from 'node:crypto';
import {
  loadCatalogs,
  type AlertIssued,
  type CapCertainty,
  type CapMsgType,
  type CapStatus,
  type Catalogs,
  type EventType,
  type SourceEventRef,
} from '../../contracts/index.ts';
import type { AlertRule, AlertRules, Condition } from './rules.ts';

/** A decoded source event and where it was read. */
export interface SourceEvent {
  readonly type: EventType;
  readonly data: Readonly<Record<string, unknown>>;
  readonly ref: SourceEventRef;
  /** The producer marked it as a drill (CloudEvents extension `snsexercise: true`). */
  readonly exercise?: boolean;
}

/** How a person was matched. */
export type MatchBasis = 'cui' | 'document' | 'name-birthdate';

/** Who to look for in the store. */
export interface PersonLookup {
  cui?: string | null;
  documentNumber?: string | null;
  fullName?: string | null;
  birthDate?: string | null;
}

/** The store's current state, as correlation needs it (consumers' `createCurrentState` fits). */
export interface StateLookups {
  activeAlbaKeneth(person: PersonLookup): Promise<{ basis: MatchBasis; rows: readonly Record<string, unknown>[] } | null>;
  activeWarrants(person: PersonLookup): Promise<{ basis: MatchBasis; rows: readonly Record<string, unknown>[] } | null>;
  stolenVehicle(plate: string): Promise<Record<string, unknown> | null>;
}

/** An earlier alert, as CAP `references` need it. */
export interface PriorAlert {
  readonly identifier: string;
  readonly sender: string;
  readonly sent: string;
  readonly rule: string;
}

/** Earlier alerts that are not cancelled, by entity. */
export interface AlertHistory {
  activeFor(entityKey: string, status: CapStatus): Promise<readonly PriorAlert[]>;
}

export interface EvaluationContext {
  readonly state: StateLookups;
  readonly history: AlertHistory;
  /** Mark every alert Exercise (replay re-drive, drills). */
  readonly forceExercise?: boolean;
  /** Clock of `sent`; defaults to now. */
  readonly now?: Date;
}

/** An alert with the bookkeeping the store needs. */
export interface RaisedAlert {
  readonly alert: AlertIssued;
  /** The entity it is about (`alba-keneth:<id>`, `incident:<id>`, …). */
  readonly entityKey: string;
  /** Identifiers a Cancel cancels. */
  readonly cancels: readonly string[];
  /** Institution that published the triggering event. */
  readonly sourceInstitution: string;
}

export interface AlertEngine {
  readonly rules: AlertRules;
  /** The alerts `event` raises under the rules; empty when none applies. */
  evaluate(event: SourceEvent, context: EvaluationContext): Promise<RaisedAlert[]>;
  /** Entities whose earlier alerts `evaluate` may look up for `event` (not those of correlations), for prefetching. */
  entityKeysOf(event: SourceEvent): string[];
  /** The escalation of an unacknowledged Extreme alert (raised once per alert). */
  escalation(original: AlertIssued, unacknowledgedForMs: number, now?: Date): RaisedAlert;
}

/** Rule name of escalations. */
export const ESCALATION_RULE = 'escalation-unacknowledged';

const GT_TIME = new Intl.DateTimeFormat('es-GT', {
  timeZone: 'America/Guatemala',
  day: '2-digit',
  month: '2-digit',
  year: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  hour12: false,
});
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;
const MATCH_TEXT: Record<MatchBasis, string> = {
  cui: 'por CUI',
  document: 'por número de documento',
  'name-birthdate': 'solo por nombre y fecha de nacimiento: coincidencia posible',
};

function get(obj: unknown, path: string): unknown {
  let v: unknown = obj;
  for (const k of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

function text(v: unknown): string {
  if (v === null || v === undefined || v === '') return 's/d';
  if (typeof v === 'string' && ISO_TIME.test(v)) {
    const d = new Date(v);
    if (!Number.isNaN(d.getTime())) return `${GT_TIME.format(d)} (hora de Guatemala)`;
  }
  if (v instanceof Date) return `${GT_TIME.format(v)} (hora de Guatemala)`;
  return String(v);
}

function holds(c: Condition, data: unknown): boolean {
  const v = get(data, c.field);
  switch (c.op) {
    case 'exists':
      return (v !== undefined && v !== null) === (c.value === undefined ? true : Boolean(c.value));
    case 'eq':
      return v === c.value;
    case 'ne':
      return v !== c.value;
    case 'in':
      return Array.isArray(c.value) && c.value.includes(v);
    case 'notIn':
      return Array.isArray(c.value) && !c.value.includes(v);
    default: {
      if (typeof v !== 'number' || typeof c.value !== 'number') return false;
      if (c.op === 'gt') return v > c.value;
      if (c.op === 'gte') return v >= c.value;
      if (c.op === 'lt') return v < c.value;
      return v <= c.value;
    }
  }
}

function matches(rule: AlertRule, data: unknown): boolean {
  const w = rule.when;
  if (!w) return true;
  if (w.all && !w.all.every((c) => holds(c, data))) return false;
  if (w.any && !w.any.some((c) => holds(c, data))) return false;
  return true;
}

/** `SNS-ST-<rule>-<24 hex>` from the parts; stable across runs and processes. */
export function alertIdentifier(rule: string, ...parts: string[]): string {
  return `SNS-ST-${rule}-${createHash('sha256').update([rule, ...parts].join('\u0000')).digest('hex').slice(0, 24)}`;
}

/** A UUID derived from the identifier, so a re-published alert keeps its event id. */
function uuidOf(identifier: string): string {
  const h = createHash('sha256').update(identifier).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** CAP `references` entry: `sender,identifier,sent`. */
function reference(p: PriorAlert): string {
  return `${p.sender},${p.identifier},${p.sent}`;
}

interface Correlated {
  match: Record<string, unknown> | null;
  matchKey: string;
  basis: MatchBasis | null;
}

/** Creates the engine over `rules`; `catalogs` name departments, posts and codes in texts. */
export function createAlertEngine(options: { rules: AlertRules; catalogs?: Catalogs }): AlertEngine {
  const { rules } = options;
  const catalogs = options.catalogs ?? loadCatalogs();
  const deptName = new Map(catalogs.departments.entries.map((d) => [d.code, d.name]));
  const muniName = new Map(catalogs.departments.entries.flatMap((d) => d.municipalities.map((m) => [`${d.code}/${m.code}`, m.name] as const)));
  const posts = new Map(catalogs.borderPosts.entries.map((p) => [p.code, p]));
  const crimeNames = new Map(catalogs.crimeTypes.entries.map((c) => [c.code, c.name]));
  const incidentNames = new Map(catalogs.incidentTypes.entries.map((c) => [c.code, c.name]));

  function areaOf(rule: AlertRule, data: unknown) {
    const a = rule.area;
    let dept: string | null = null;
    let muni: string | null = null;
    let postName: string | null = null;
    if (a.borderPost) {
      const code = String(get(data, a.borderPost) ?? '');
      const post = posts.get(code);
      postName = post?.name ?? code;
      dept = post?.departmentCode ?? null;
    }
    if (a.department) dept = (get(data, a.department) as string | undefined) ?? dept;
    if (a.municipality) muni = (get(data, a.municipality) as string | undefined) ?? null;
    const lat = a.latitude ? get(data, a.latitude) : undefined;
    const lon = a.longitude ? get(data, a.longitude) : undefined;
    const parts = [postName, dept && muni ? muniName.get(`${dept}/${muni}`) : null, dept ? deptName.get(dept) : null].filter(Boolean);
    return {
      areaDesc: parts.length ? parts.join(', ') : 'República de Guatemala',
      departmentCode: dept,
      municipalityCode: dept ? muni : null,
      circle: typeof lat === 'number' && typeof lon === 'number' ? `${lat},${lon} 1` : null,
      postName,
    };
  }

  async function correlate(rule: AlertRule, data: Record<string, unknown>, state: StateLookups): Promise<Correlated[]> {
    if (!rule.correlate) return [{ match: null, matchKey: '', basis: null }];
    if (rule.correlate === 'stolen-vehicle') {
      const plate = get(data, 'vehicle.plate');
      if (typeof plate !== 'string' || !plate) return [];
      const row = await state.stolenVehicle(plate);
      return row ? [{ match: row, matchKey: `plate:${String(row.plate)}`, basis: null }] : [];
    }
    const t = (data.traveller ?? {}) as Record<string, unknown>;
    const person: PersonLookup = {
      cui: (t.cui as string | null) ?? null,
      documentNumber: (t.documentNumber as string | null) ?? null,
      fullName: rules.correlation.nameFallback ? ((t.fullName as string | null) ?? null) : null,
      birthDate: rules.correlation.nameFallback ? ((t.birthDate as string | null) ?? null) : null,
    };
    const found = rule.correlate === 'alba-keneth-active' ? await state.activeAlbaKeneth(person) : await state.activeWarrants(person);
    if (!found) return [];
    if (found.basis === 'name-birthdate' && !rules.correlation.nameFallback) return [];
    const key = rule.correlate === 'alba-keneth-active' ? 'alert_id' : 'warrant_id';
    return found.rows.map((row) => ({ match: row, matchKey: `${key}:${String(row[key])}`, basis: found.basis }));
  }

  function render(tpl: string, vars: Record<string, unknown>, data: unknown, match: Record<string, unknown> | null): string {
    return tpl.replace(/\{([^{}]+)\}/g, (_, name: string) => {
      if (name in vars) return text(vars[name]);
      if (name.startsWith('match.')) return text(match?.[name.slice(6)]);
      return text(get(data, name));
    });
  }

  return {
    rules,
    entityKeysOf(event) {
      const data = event.data as Record<string, unknown>;
      return rules.rulesFor(event.type).filter((r) => !r.correlate && matches(r, data)).map((r) => render(r.entity, {}, data, null));
    },
    async evaluate(event, context) {
      const out: RaisedAlert[] = [];
      const status: CapStatus = context.forceExercise || event.exercise ? 'Exercise' : 'Actual';
      const now = context.now ?? new Date();
      const sent = new Date(Math.floor(now.getTime() / 1000) * 1000).toISOString();
      const data = event.data as Record<string, unknown>;
      for (const rule of rules.rulesFor(event.type)) {
        if (!matches(rule, data)) continue;
        for (const c of await correlate(rule, data, context.state)) {
          const area = areaOf(rule, data);
          const vars: Record<string, unknown> = {
            areaDesc: area.areaDesc,
            borderPost: area.postName,
            crimeType: crimeNames.get(String(data.crimeTypeCode)) ?? data.crimeTypeCode,
            incidentType: incidentNames.get(String(data.incidentType)) ?? data.incidentType,
            matchBasis: c.basis ? MATCH_TEXT[c.basis] : null,
            movement: data.direction === 'EXIT' ? 'Salida' : data.direction === 'ENTRY' ? 'Ingreso' : null,
          };
          const entityKey = render(rule.entity, {}, data, c.match);
          const prior = await context.history.activeFor(entityKey, status);
          let msgType: CapMsgType = rule.msgType;
          let references: PriorAlert[] = [];
          if (rule.msgType === 'Cancel') {
            if (prior.length === 0) continue;
            references = [...prior];
          } else if (rule.correlate) {
            references = [...prior]; // context: the alert or warrant it correlates with
          } else {
            references = prior.filter((p) => p.rule === rule.name);
            if (references.length > 0) msgType = 'Update';
          }
          const identifier = alertIdentifier(rule.name, event.ref.eventId, c.matchKey, status);
          const certainty: CapCertainty = c.basis === 'name-birthdate' ? 'Possible' : rule.certainty;
          const expires = rule.msgType === 'Cancel' ? null : new Date(Date.parse(sent) + rules.expiresAfterHours * 3_600_000).toISOString();
          const alert: AlertIssued = {
            eventId: uuidOf(identifier),
            occurredAt: sent,
            identifier,
            sender: rules.sender,
            sent,
            status,
            msgType,
            scope: rules.scope,
            references: references.map(reference),
            rule: rule.name,
            audience: rule.audience ?? rules.audience,
            info: {
              language: 'es-GT',
              category: [...rule.category],
              event: render(rule.event, vars, data, c.match).slice(0, 200),
              urgency: rule.urgency,
              severity: rule.severity,
              certainty,
              headline: render(rule.headline, vars, data, c.match).slice(0, 300),
              description: render(rule.description, vars, data, c.match).slice(0, 4000),
              instruction: rule.instruction ? render(rule.instruction, vars, data, c.match).slice(0, 2000) : null,
              expires,
            },
            area: { areaDesc: area.areaDesc.slice(0, 300), departmentCode: area.departmentCode, municipalityCode: area.municipalityCode, circle: area.circle },
            sourceEvents: [event.ref],
          };
          out.push({ alert, entityKey, cancels: rule.msgType === 'Cancel' ? references.map((r) => r.identifier) : [], sourceInstitution: event.ref.source });
        }
      }
      return out;
    },
    escalation(original, unacknowledgedForMs, now = new Date()) {
      const sent = new Date(Math.floor(now.getTime() / 1000) * 1000).toISOString();
      const identifier = alertIdentifier(ESCALATION_RULE, original.identifier);
      const minutes = Math.max(1, Math.round(unacknowledgedForMs / 60_000));
      const alert: AlertIssued = {
        ...original,
        eventId: uuidOf(identifier),
        occurredAt: sent,
        identifier,
        sent,
        msgType: 'Update',
        references: [`${original.sender},${original.identifier},${original.sent}`],
        rule: ESCALATION_RULE,
        audience: 'Dirección de la Secretaría Técnica del CNS',
        info: {
          ...original.info,
          headline: `ESCALAMIENTO: sin acuse de recibo tras ${minutes} min: ${original.info.headline}`.slice(0, 300),
          description: `Una alerta extrema no fue reconocida por ningún operador de la ST en ${minutes} minutos. ${original.info.description}`.slice(0, 4000),
          instruction: 'Un supervisor debe atender y reconocer la alerta original de inmediato.',
        },
      };
      return { alert, entityKey: `escalation:${original.identifier}`, cancels: [], sourceInstitution: 'ST-CNS' };
    },
  };
}
