/**
 * alert-rules.yaml: loaded, validated (JSON Schema, then cross-checks) and
 * frozen. Every violation is reported at once with its JSON Pointer and line,
 * like topics.yaml.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import { LineCounter, parseDocument } from 'yaml';
import { EVENT_TYPES, type CapCategory, type CapCertainty, type CapSeverity, type CapUrgency, type EventType } from '../../contracts/index.ts';
import { BusError, type Violation } from '../../core/index.ts';
import { failWithViolations, lineOf } from '../../core/yaml-source.ts';

/** A correlation with the store's current state. */
export type CorrelationKind = 'alba-keneth-active' | 'arrest-warrant-active' | 'stolen-vehicle';

/** One condition on an event field. */
export interface Condition {
  readonly field: string;
  readonly op: 'eq' | 'ne' | 'gt' | 'gte' | 'lt' | 'lte' | 'in' | 'notIn' | 'exists';
  readonly value?: unknown;
}

/** Where an alert is: field paths into the event, or a border post field. */
export interface AreaSpec {
  readonly department?: string;
  readonly municipality?: string;
  readonly latitude?: string;
  readonly longitude?: string;
  readonly borderPost?: string;
}

/** One alert rule, as declared. */
export interface AlertRule {
  readonly name: string;
  readonly on: readonly EventType[];
  readonly when?: { readonly all?: readonly Condition[]; readonly any?: readonly Condition[] };
  readonly correlate?: CorrelationKind;
  readonly msgType: 'Alert' | 'Cancel';
  readonly entity: string;
  readonly category: readonly CapCategory[];
  readonly event: string;
  readonly severity: CapSeverity;
  readonly urgency: CapUrgency;
  readonly certainty: CapCertainty;
  readonly area: AreaSpec;
  readonly headline: string;
  readonly description: string;
  readonly instruction?: string;
  readonly audience?: string;
}

/** The whole rules file. */
export interface AlertRules {
  readonly source: string;
  readonly sender: string;
  readonly scope: 'Public' | 'Restricted' | 'Private';
  readonly audience: string;
  readonly expiresAfterHours: number;
  readonly correlation: { readonly nameFallback: boolean };
  readonly rules: readonly AlertRule[];
  /** Rules that evaluate `type`, in file order. */
  rulesFor(type: string): readonly AlertRule[];
}

const CONDITION = {
  type: 'object',
  additionalProperties: false,
  required: ['field', 'op'],
  properties: {
    field: { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9]*(\\.[A-Za-z][A-Za-z0-9]*)*$' },
    op: { enum: ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'notIn', 'exists'] },
    value: {},
  },
} as const;

const FIELD_PATH = { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9]*(\\.[A-Za-z][A-Za-z0-9]*)*$' } as const;

/** JSON Schema of alert-rules.yaml. */
export const alertRulesSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['sender', 'scope', 'audience', 'expiresAfterHours', 'correlation', 'rules'],
  properties: {
    sender: { type: 'string', minLength: 3, maxLength: 200, pattern: '^[^\\s,<&]+$' },
    scope: { enum: ['Public', 'Restricted', 'Private'] },
    audience: { type: 'string', minLength: 1, maxLength: 200 },
    expiresAfterHours: { type: 'number', exclusiveMinimum: 0 },
    correlation: {
      type: 'object',
      additionalProperties: false,
      required: ['nameFallback'],
      properties: { nameFallback: { type: 'boolean' } },
    },
    rules: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'on', 'msgType', 'entity', 'category', 'event', 'severity', 'urgency', 'certainty', 'area', 'headline', 'description'],
        properties: {
          name: { type: 'string', pattern: '^[a-z][a-z0-9-]{1,60}$' },
          on: { type: 'array', minItems: 1, items: { type: 'string' } },
          when: {
            type: 'object',
            additionalProperties: false,
            minProperties: 1,
            properties: { all: { type: 'array', minItems: 1, items: CONDITION }, any: { type: 'array', minItems: 1, items: CONDITION } },
          },
          correlate: { enum: ['alba-keneth-active', 'arrest-warrant-active', 'stolen-vehicle'] },
          msgType: { enum: ['Alert', 'Cancel'] },
          entity: { type: 'string', minLength: 1, maxLength: 200 },
          category: {
            type: 'array',
            minItems: 1,
            items: { enum: ['Geo', 'Met', 'Safety', 'Security', 'Rescue', 'Fire', 'Health', 'Env', 'Transport', 'Infra', 'CBRNE', 'Other'] },
          },
          event: { type: 'string', minLength: 1, maxLength: 200 },
          severity: { enum: ['Extreme', 'Severe', 'Moderate', 'Minor', 'Unknown'] },
          urgency: { enum: ['Immediate', 'Expected', 'Future', 'Past', 'Unknown'] },
          certainty: { enum: ['Observed', 'Likely', 'Possible', 'Unlikely', 'Unknown'] },
          area: {
            type: 'object',
            additionalProperties: false,
            properties: { department: FIELD_PATH, municipality: FIELD_PATH, latitude: FIELD_PATH, longitude: FIELD_PATH, borderPost: FIELD_PATH },
          },
          headline: { type: 'string', minLength: 1, maxLength: 300 },
          description: { type: 'string', minLength: 1, maxLength: 2000 },
          instruction: { type: 'string', minLength: 1, maxLength: 1000 },
          audience: { type: 'string', minLength: 1, maxLength: 200 },
        },
      },
    },
  },
} as const;

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
const validateStructure = ajv.compile(alertRulesSchema);

/** Template variables computed by the engine, beside event fields and `match.*`. */
export const TEMPLATE_HELPERS = ['areaDesc', 'borderPost', 'crimeType', 'incidentType', 'matchBasis', 'movement'] as const;

const PLACEHOLDER = /\{([^{}]+)\}/g;

/** A violation of alert-rules.yaml, with its line when known. */
export interface RulesViolation extends Violation {
  readonly line?: number;
}

/**
 * Reads and validates the rules file at `path` (default `alert-rules.yaml`).
 * Throws one BUS_ERR_ALERT_RULES_FILE listing every violation.
 */
export function loadAlertRules(path = 'alert-rules.yaml'): AlertRules {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new BusError('BUS_ERR_ALERT_RULES_FILE', `${path}: cannot be read (${(cause as Error).message})`, { cause });
  }
  return parseAlertRules(text, path);
}

/** Validates and freezes rules given as YAML text; `loadAlertRules` without the file. */
export function parseAlertRules(text: string, source = 'alert-rules.yaml'): AlertRules {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true });
  if (doc.errors.length > 0) {
    failWithViolations('BUS_ERR_ALERT_RULES_FILE', source, doc.errors.map((e) => ({ path: '', message: e.message.split('\n')[0] ?? e.code, rule: 'yaml.syntax', ...(e.linePos ? { line: e.linePos[0].line } : {}) })));
  }
  const data = doc.toJS() as unknown;
  const located = (path: string, message: string, rule: string, onKey = false): RulesViolation => {
    const line = lineOf(doc, lineCounter, path, onKey);
    return line === undefined ? { path, message, rule } : { path, message, rule, line };
  };
  const violations: RulesViolation[] = [];
  if (!validateStructure(data)) {
    for (const error of validateStructure.errors ?? []) violations.push(fromAjv(error, located));
  }
  violations.push(...crossChecks(data, located));
  if (violations.length > 0) failWithViolations('BUS_ERR_ALERT_RULES_FILE', source, violations);
  const raw = data as Omit<AlertRules, 'source' | 'rulesFor'>;
  const rules = Object.freeze(raw.rules.map((r) => Object.freeze({ ...r, area: Object.freeze({ ...r.area }) })));
  const byType = new Map<string, AlertRule[]>();
  for (const rule of rules) for (const t of rule.on) byType.set(t, [...(byType.get(t) ?? []), rule]);
  return Object.freeze({
    source,
    sender: raw.sender,
    scope: raw.scope,
    audience: raw.audience,
    expiresAfterHours: raw.expiresAfterHours,
    correlation: Object.freeze({ ...raw.correlation }),
    rules,
    rulesFor: (type: string) => byType.get(type) ?? [],
  });
}

type Locate = (path: string, message: string, rule: string, onKey?: boolean) => RulesViolation;

function fromAjv(error: ErrorObject, located: Locate): RulesViolation {
  const rule = `schema.${error.keyword}`;
  if (error.keyword === 'additionalProperties') {
    const key = String((error.params as { additionalProperty: string }).additionalProperty);
    return located(`${error.instancePath}/${key}`, `unknown key "${key}"`, rule, true);
  }
  if (error.keyword === 'enum') {
    return located(error.instancePath, `must be one of: ${(error.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`, rule);
  }
  return located(error.instancePath, error.message ?? 'is invalid', rule);
}

const CORRELATION_SOURCE: Record<CorrelationKind, string> = {
  'alba-keneth-active': 'igm.migratory-movement.recorded',
  'arrest-warrant-active': 'igm.migratory-movement.recorded',
  'stolen-vehicle': 'igm.migratory-movement.recorded',
};

function crossChecks(data: unknown, located: Locate): RulesViolation[] {
  const out: RulesViolation[] = [];
  const rules = (data as { rules?: unknown })?.rules;
  if (!Array.isArray(rules)) return out;
  const names = new Map<string, number>();
  rules.forEach((raw, i) => {
    if (typeof raw !== 'object' || raw === null) return;
    const r = raw as Record<string, unknown>;
    const base = `/rules/${i}`;
    if (typeof r.name === 'string') {
      const first = names.get(r.name);
      if (first !== undefined) out.push(located(`${base}/name`, `duplicate rule "${r.name}" (first declared at /rules/${first})`, 'rule.duplicate'));
      else names.set(r.name, i);
    }
    const on = Array.isArray(r.on) ? r.on : [];
    on.forEach((t, k) => {
      if (typeof t === 'string' && (!(EVENT_TYPES as readonly string[]).includes(t) || t.startsWith('st.'))) {
        out.push(located(`${base}/on/${k}`, `unknown source event type "${t}"`, 'rule.eventType'));
      }
    });
    const correlate = r.correlate as CorrelationKind | undefined;
    if (correlate && CORRELATION_SOURCE[correlate] && on.some((t) => t !== CORRELATION_SOURCE[correlate])) {
      out.push(located(`${base}/correlate`, `${correlate} only applies to ${CORRELATION_SOURCE[correlate]}`, 'rule.correlate'));
    }
    if (r.msgType === 'Cancel' && correlate) out.push(located(`${base}/msgType`, 'a correlation rule cannot be a Cancel', 'rule.msgType'));
    for (const key of ['entity', 'event', 'headline', 'description', 'instruction'] as const) {
      const tpl = r[key];
      if (typeof tpl !== 'string') continue;
      for (const m of tpl.matchAll(PLACEHOLDER)) {
        const v = m[1]!;
        const ok = (TEMPLATE_HELPERS as readonly string[]).includes(v) || /^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$/.test(v);
        if (!ok) out.push(located(`${base}/${key}`, `bad placeholder "{${v}}"`, 'rule.template'));
        if (v.startsWith('match.') && !correlate) out.push(located(`${base}/${key}`, `"{${v}}" needs a correlate`, 'rule.template'));
      }
    }
  });
  return out;
}


