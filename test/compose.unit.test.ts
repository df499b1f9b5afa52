import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ENVIRONMENT } from '../core/environment.ts';
import { SERVICES } from '../scripts/services.ts';
import { ROOT } from '../scripts/stack/stack.ts';

interface ComposeService {
  command?: string[];
  environment?: Record<string, string>;
  healthcheck?: unknown;
  depends_on?: unknown;
  build?: unknown;
  image?: string;
}
const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, ComposeService> };
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>; dependencies: Record<string, string> };
const documented = new Set(ENVIRONMENT.map((v) => v.name));
const ours = Object.entries(compose.services).filter(([, s]) => s.build !== undefined);

describe('docker-compose.yml', () => {
  it('runs Kafka in KRaft mode on 3 brokers with replication 3 and min.insync.replicas 2', () => {
    const brokers = Object.entries(compose.services).filter(([, s]) => s.image?.startsWith('apache/kafka:'));
    expect(brokers).toHaveLength(3);
    for (const [, b] of brokers) {
      expect(b.environment).toMatchObject({ KAFKA_PROCESS_ROLES: 'broker,controller', KAFKA_DEFAULT_REPLICATION_FACTOR: '3', KAFKA_MIN_INSYNC_REPLICAS: '2', KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false' });
      expect(b.healthcheck).toBeDefined();
    }
    expect(compose.services['schema-registry']?.image).toMatch(/^confluentinc\/cp-schema-registry:/);
    expect(compose.services.postgres?.image).toBe('postgres:15');
  });

  it("gives every one of the bus's services only variables the code reads, and the three endpoints", () => {
    expect(ours.length).toBeGreaterThan(0);
    for (const [name, s] of ours) {
      const unknown = Object.keys(s.environment ?? {}).filter((k) => !documented.has(k));
      expect(unknown, `${name} sets variables the code does not read`).toEqual([]);
      expect(s.environment, name).toMatchObject({ KAFKA_BROKERS: expect.any(String), REGISTRY_URL: expect.any(String), DATABASE_URL: expect.any(String) });
    }
  });

  it('runs every service of `npm start`, each through its npm script', () => {
    for (const svc of SERVICES) {
      const s = compose.services[svc.name];
      expect(s, `compose has no service ${svc.name}`).toBeDefined();
      expect(s!.command).toEqual(['npm', 'run', svc.name]);
      expect(pkg.scripts[svc.name]).toContain(svc.script);
      for (const flag of 'nodeArgs' in svc ? svc.nodeArgs : []) expect(pkg.scripts[svc.name], `npm run ${svc.name} runs with ${flag}`).toContain(flag);
    }
  });

  it('can run the services in a production image (tsx is a runtime dependency)', () => {
    expect(pkg.dependencies.tsx).toBeDefined();
  });
});
