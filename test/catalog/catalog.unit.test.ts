import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { effectiveReplication, desiredTopicConfigs, loadCatalog, type TopicSpec } from '../../catalog/index.ts';
import { BusError, isBusError } from '../../core/index.ts';

const INVENTORY = process.env.SNS_INVENTORY ?? join(import.meta.dirname, '../../../shared/reference/inventario-sns.txt');
const workDirs: string[] = [];
afterAll(() => workDirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A temp folder holding `topics.yaml` and a `schemas/` with an empty .avsc per given event type. */
function workspace(yamlText: string, eventTypes: readonly string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'sns-catalog-'));
  workDirs.push(dir);
  for (const eventType of eventTypes) {
    const [institution, ...rest] = eventType.split('.');
    mkdirSync(join(dir, 'schemas', institution!), { recursive: true });
    writeFileSync(join(dir, 'schemas', institution!, `${rest.join('.')}.avsc`), '{}');
  }
  const file = join(dir, 'topics.yaml');
  writeFileSync(file, yamlText);
  return file;
}

/** 1-based line of the first line containing `needle`. */
function lineOf(text: string, needle: string): number {
  const index = text.split('\n').findIndex((l) => l.includes(needle));
  if (index < 0) throw new Error(`"${needle}" not in the YAML under test`);
  return index + 1;
}

function loadError(file: string): BusError {
  try {
    loadCatalog(file);
  } catch (err) {
    if (isBusError(err, 'BUS_ERR_TOPICS_FILE')) return err;
    throw err;
  }
  throw new Error('expected loadCatalog to throw');
}

const SCHEMAS = ['conred.incident.reported', 'conred.incident.closed', 'st.alert.issued'];

const VALID = `institutions:
  - code: CONRED
    name: Coordinadora Nacional para la Reducción de Desastres
  - code: ST-CNS
    name: Secretaría Técnica del Consejo Nacional de Seguridad
topics:
  - name: sns.conred.incidents.v1
    owner: CONRED
    description: Incidents
    eventTypes: [conred.incident.reported, conred.incident.closed]
    keyField: incidentId
    partitions: 6
    replicationFactor: 3
    configs:
      min.insync.replicas: 2
  - name: sns.st.alerts.v1
    owner: ST-CNS
    description: Alerts
    eventTypes:
      - st.alert.issued
    keyField: identifier
    partitions: 3
    replicationFactor: 3
  - name: sns.st.dead-letter.v1
    owner: ST-CNS
    description: Dead letter
    eventTypes: []
    keyField: null
    partitions: 1
    replicationFactor: 1
    retentionMs: 604800000
items:
  - id: conred-incidentes-activos
    institution: CONRED
    name: Incidentes Activos
    description: Datos de personas, viviendas e infraestructura en situaciones de peligro
    dataState: { inventory: Digital, kind: digital }
    dataQuality: { inventory: Estructurados, kind: structured }
    updateFrequency: { inventory: Inmediata, kind: immediate }
    classification: restricted
    topic: sns.conred.incidents.v1
`;

describe('loadCatalog: a valid file', () => {
  const catalog = loadCatalog(workspace(VALID, SCHEMAS));

  it('answers the look-ups producers and consumers need', () => {
    expect(catalog.topicOf('conred.incident.closed').name).toBe('sns.conred.incidents.v1');
    expect(catalog.ownerOf('st.alert.issued')).toBe('ST-CNS');
    expect(catalog.keyFieldOf('conred.incident.reported')).toBe('incidentId');
    expect(catalog.eventTypesOf('CONRED')).toEqual(['conred.incident.reported', 'conred.incident.closed']);
    expect(catalog.eventTypesOf('MINEX')).toEqual([]);
    expect(catalog.isDeclaredEventType('st.alert.issued')).toBe(true);
    expect(catalog.topic('sns.st.dead-letter.v1').keyField).toBeNull();
  });

  it('applies the defaults: history kept forever, delete policy, configs as strings', () => {
    const incidents = catalog.topic('sns.conred.incidents.v1');
    expect(incidents.retentionMs).toBe(-1);
    expect(incidents.cleanupPolicy).toBe('delete');
    expect(incidents.configs).toEqual({ 'min.insync.replicas': '2' });
    expect(catalog.topic('sns.st.dead-letter.v1').retentionMs).toBe(604_800_000);
  });

  it('is frozen', () => {
    expect(Object.isFrozen(catalog)).toBe(true);
    expect(Object.isFrozen(catalog.topics[0])).toBe(true);
    expect(Object.isFrozen(catalog.topics[0]!.eventTypes)).toBe(true);
    expect(Object.isFrozen(catalog.items[0]!.dataState)).toBe(true);
  });

  it('throws BUS_ERR_TOPIC_UNDECLARED for an event type or topic it does not carry', () => {
    expect(() => catalog.topicOf('conred.incident.exploded')).toThrow(
      expect.objectContaining({ code: 'BUS_ERR_TOPIC_UNDECLARED' }),
    );
    expect(() => catalog.ownerOf('nope.nope.nope')).toThrow(/not carried by any topic/);
    expect(() => catalog.topic('sns.nope.v1')).toThrow(expect.objectContaining({ code: 'BUS_ERR_TOPIC_UNDECLARED' }));
  });
});

describe('loadCatalog: each bad case names the file, the path and the line', () => {
  it('an unknown key', () => {
    const text = VALID.replace('    partitions: 6\n', '    partitions: 6\n    retention: 7d\n');
    const file = workspace(text, SCHEMAS);
    const err = loadError(file);
    expect(err.message).toBe(
      `${file}: 1 violation(s):\n  /topics/0/retention (line ${lineOf(text, 'retention: 7d')}): unknown key "retention"`,
    );
    expect(err.violations).toEqual([expect.objectContaining({ path: '/topics/0/retention', line: 13 })]);
  });

  it('a duplicate topic', () => {
    const text = VALID.replace('name: sns.st.alerts.v1', 'name: sns.conred.incidents.v1');
    const err = loadError(workspace(text, SCHEMAS));
    // The second `name: sns.conred.incidents.v1`, on line 16.
    expect(err.message).toContain(
      '/topics/1/name (line 16): duplicate topic "sns.conred.incidents.v1" (first declared at /topics/0)',
    );
  });

  it('partitions < 1', () => {
    const text = VALID.replace('partitions: 3', 'partitions: 0');
    const err = loadError(workspace(text, SCHEMAS));
    expect(err.message).toContain(`/topics/1/partitions (line ${lineOf(text, 'partitions: 0')}): must be >= 1`);
  });

  it('an unknown institution, as owner and as item institution', () => {
    const text = VALID.replace('owner: CONRED', 'owner: CONRD').replace('institution: CONRED', 'institution: MINEX');
    const err = loadError(workspace(text, SCHEMAS));
    expect(err.message).toContain(
      `/topics/0/owner (line ${lineOf(text, 'owner: CONRD')}): unknown institution "CONRD" (declared: CONRED, ST-CNS)`,
    );
    expect(err.message).toContain(`/items/0/institution (line ${lineOf(text, 'institution: MINEX')}): unknown institution "MINEX"`);
  });

  it('an unknown event type: no schemas/<a>/<b>.<c>.avsc', () => {
    const text = VALID.replace('conred.incident.closed]', 'conred.incident.exploded]');
    const err = loadError(workspace(text, SCHEMAS));
    expect(err.message).toMatch(
      new RegExp(
        `/topics/0/eventTypes/1 \\(line ${lineOf(text, 'exploded')}\\): unknown event type "conred.incident.exploded" ` +
          '\\(no schema file .*schemas/conred/incident.exploded.avsc\\)',
      ),
    );
  });

  it('an event type carried by two topics', () => {
    const text = VALID.replace('      - st.alert.issued', '      - st.alert.issued\n      - conred.incident.closed');
    const err = loadError(workspace(text, SCHEMAS));
    expect(err.message).toContain(
      `/topics/1/eventTypes/1 (line ${lineOf(text, '      - conred.incident.closed')}): ` +
        'duplicate event type "conred.incident.closed" (already carried by sns.conred.incidents.v1)',
    );
  });

  it('an item linked to an undeclared topic', () => {
    const text = VALID.replace('topic: sns.conred.incidents.v1', 'topic: sns.conred.incidentes.v1');
    const err = loadError(workspace(text, SCHEMAS));
    expect(err.message).toContain(`/items/0/topic (line ${lineOf(text, 'incidentes.v1')}): undeclared topic "sns.conred.incidentes.v1"`);
  });

  it('lists every violation at once, in line order', () => {
    const text = VALID.replace('owner: CONRED', 'owner: CONRD')
      .replace('    partitions: 6\n', '    partitions: 6\n    retention: 7d\n')
      .replace('name: sns.st.alerts.v1', 'name: sns.conred.incidents.v1')
      .replace('partitions: 3', 'partitions: 0')
      .replace('- st.alert.issued', '- st.alert.exploded');
    const file = workspace(text, SCHEMAS);
    const err = loadError(file);
    expect(err.message.split('\n')[0]).toBe(`${file}: 5 violation(s):`);
    expect(err.violations.map((v) => v.path)).toEqual([
      '/topics/0/owner',
      '/topics/0/retention',
      '/topics/1/name',
      '/topics/1/eventTypes/0',
      '/topics/1/partitions',
    ]);
  });

  it('a missing required key points at its parent', () => {
    const text = VALID.replace('    keyField: identifier\n', '');
    const err = loadError(workspace(text, SCHEMAS));
    expect(err.message).toContain(
      `/topics/1 (line ${lineOf(text, 'name: sns.st.alerts.v1')}): must have required property 'keyField'`,
    );
  });

  it('a YAML syntax error', () => {
    const text = VALID.replace('    partitions: 6\n', '    partitions: 6\n   bad: [\n');
    const err = loadError(workspace(text, SCHEMAS));
    expect(err.violations[0]).toEqual(expect.objectContaining({ rule: 'yaml.syntax', line: expect.any(Number) }));
  });

  it('an unreadable file', () => {
    expect(() => loadCatalog(join(tmpdir(), 'no-such-dir', 'topics.yaml'))).toThrow(
      expect.objectContaining({ code: 'BUS_ERR_TOPICS_FILE', message: expect.stringMatching(/cannot be read/) }),
    );
  });
});

describe('effectiveReplication', () => {
  const spec = loadCatalog(workspace(VALID, SCHEMAS)).topic('sns.conred.incidents.v1');

  it('clamps production replication to a one-broker stack', () => {
    expect(effectiveReplication(spec, 1)).toEqual({ replicationFactor: 1, minInsyncReplicas: 1, clamped: true });
    expect(desiredTopicConfigs(spec, 1)).toEqual({
      'min.insync.replicas': '1',
      'retention.ms': '-1',
      'cleanup.policy': 'delete',
    });
  });

  it('keeps production values on three brokers', () => {
    expect(effectiveReplication(spec, 3)).toEqual({ replicationFactor: 3, minInsyncReplicas: 2, clamped: false });
    const noIsr: TopicSpec = { ...spec, configs: {} };
    expect(effectiveReplication(noIsr, 5)).toEqual({ replicationFactor: 3, minInsyncReplicas: undefined, clamped: false });
  });
});

describe('the real topics.yaml', () => {
  const REPO = join(import.meta.dirname, '../..');
  const text = readFileSync(join(REPO, 'topics.yaml'), 'utf8');
  const declared = (parse(text) as { topics: { eventTypes: string[] }[] }).topics.flatMap((t) => t.eventTypes);
  // Structure and inventory, independent of whether every schema file has landed yet.
  const catalog = loadCatalog(workspace(text, declared));

  it('loads against the real schemas/ folder', () => {
    expect(() => loadCatalog(join(REPO, 'topics.yaml'))).not.toThrow();
  });

  it('declares the required topics with their owners, keys and event types', () => {
    const summary = Object.fromEntries(catalog.topics.map((t) => [t.name, [t.owner, t.keyField, t.eventTypes]]));
    expect(summary).toEqual({
      'sns.conred.incidents.v1': [
        'CONRED',
        'incidentId',
        ['conred.incident.reported', 'conred.incident.updated', 'conred.incident.closed'],
      ],
      'sns.pgn.alba-keneth.v1': ['PGN', 'alertId', ['pgn.alba-keneth.activated', 'pgn.alba-keneth.deactivated']],
      'sns.igm.migratory-movements.v1': ['IGM', 'movementId', ['igm.migratory-movement.recorded']],
      'sns.mingob.stolen-vehicles.v1': ['MINGOB', 'plate', ['mingob.vehicle.reported-stolen', 'mingob.vehicle.recovered']],
      'sns.mingob.arrest-warrants.v1': [
        'MINGOB',
        'warrantId',
        ['mingob.arrest-warrant.issued', 'mingob.arrest-warrant.closed'],
      ],
      'sns.minex.guatemalans-abroad.v1': ['MINEX', 'registrationId', ['minex.citizen-abroad.registered']],
      'sns.st.alerts.v1': ['ST-CNS', 'identifier', ['st.alert.issued']],
      'sns.st.dead-letter.v1': ['ST-CNS', null, []],
    });
    for (const topic of catalog.topics) {
      expect(topic, topic.name).toMatchObject({ replicationFactor: 3, retentionMs: -1, configs: { 'min.insync.replicas': '2' } });
    }
  });

  it('carries all 27 inventory items: MINEX 2, CONRED 5, IGM 3, PGN 6, MINGOB 11', () => {
    const count: Record<string, number> = {};
    for (const item of catalog.items) count[item.institution] = (count[item.institution] ?? 0) + 1;
    expect(count).toEqual({ MINEX: 2, CONRED: 5, IGM: 3, PGN: 6, MINGOB: 11 });
    expect(new Set(catalog.items.map((i) => i.id)).size).toBe(27);
  });

  it('classifies everything that identifies a person as personal', () => {
    const personal = catalog.items.filter((i) => i.classification === 'personal').map((i) => i.id);
    expect(personal).toEqual(expect.arrayContaining(['pgn-alertas-alba-keneth', 'mingob-ordenes-captura', 'mingob-flujo-migratorio']));
    expect(catalog.items.filter((i) => i.institution === 'MINGOB').every((i) => i.classification === 'personal')).toBe(true);
  });

  it.skipIf(!existsSync(INVENTORY))('matches the inventory row by row, verbatim', () => {
    const rows = parseInventory(readFileSync(INVENTORY, 'utf8'));
    expect(rows).toHaveLength(27);
    const fromCatalog = catalog.items.map((i) => [
      i.institution,
      i.name,
      i.description,
      i.dataState.inventory,
      i.dataQuality.inventory,
      i.updateFrequency.inventory,
    ]);
    expect(fromCatalog).toEqual(rows);
  });
});

/** Tab-separated inventory rows; a row starting with two tabs continues the previous description (page break). */
function parseInventory(text: string): string[][] {
  const rows: string[][] = [];
  for (const line of text.split('\n')) {
    const cells = line.split('\t').map((c) => c.trim());
    if (/^(MINEX|CONRED|IGM|PGN|MINGOB)$/.test(cells[0]!) && cells.length === 6) rows.push(cells);
    else if (line.startsWith('\t\t') && cells[2] && rows.length > 0) rows.at(-1)![2] += ` ${cells[2]}`;
  }
  return rows;
}
