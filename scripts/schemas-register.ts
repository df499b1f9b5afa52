/**
 * `npm run schemas:register`: registers every event type's schema under its
 * subject (TopicRecordNameStrategy) and reports which subject got which
 * version. Idempotent: an unchanged schema keeps its id and version.
 * SNS_TOPIC_PREFIX prefixes topic names (and so subjects).
 */
import { pathToFileURL } from 'node:url';
import { loadCatalog } from '../catalog/index.ts';
import { getContract, type EventType } from '../contracts/index.ts';
import { isBusError, readEndpoints } from '../core/index.ts';
import { createRegistry, subjectFor } from '../registry/index.ts';

/** Registers all schemas of the catalog; returns one row per subject. */
export async function registerSchemas(opts: { registryUrl?: string; topicPrefix?: string } = {}): Promise<Array<{ eventType: string; subject: string; id: number; version: number }>> {
  const catalog = loadCatalog();
  const registry = createRegistry(opts.registryUrl ?? readEndpoints().registryUrl);
  const prefix = opts.topicPrefix ?? process.env.SNS_TOPIC_PREFIX ?? '';
  const rows = [];
  for (const topic of catalog.topics) {
    for (const eventType of topic.eventTypes) {
      const contract = getContract(eventType as EventType);
      const subject = subjectFor(prefix + topic.name, contract.subjectRecordName);
      const { id, version } = await registry.register(subject, contract.schema);
      rows.push({ eventType, subject, id, version });
    }
  }
  return rows;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    const rows = await registerSchemas();
    const w = Math.max(...rows.map((r) => r.subject.length));
    for (const r of rows) process.stdout.write(`${r.subject.padEnd(w)}  version ${String(r.version).padStart(3)}  id ${r.id}\n`);
    process.stdout.write(`${rows.length} subjects registered\n`);
  } catch (err) {
    process.stderr.write(`schemas:register: ${isBusError(err) ? `${err.code}: ${err.message}` : String(err)}\n`);
    process.exitCode = 1;
  }
}
