/**
 * `npm run apikeys -- create --institution PGN [--label "sistema X"]`
 * `npm run apikeys -- revoke --id <keyId>`
 * `npm run apikeys -- rotate --id <keyId>`   (creates a new key for the same institution, then revokes the old one)
 * `npm run apikeys -- list [--institution PGN]`
 *
 * The key is printed once at creation; only its SHA-256 is stored. Messages
 * are for operators, in Spanish.
 */
import { parseArgs } from 'node:util';
import { loadCatalog } from '../../catalog/index.ts';
import { isBusError, readEndpoints } from '../../core/index.ts';
import { createApiKeyStore, createIngestPool, ingestSchemaFromEnv, migrateIngest } from './index.ts';

const USAGE = 'Uso: npm run apikeys -- create --institution <código> [--label <texto>] | revoke --id <id> | rotate --id <id> | list [--institution <código>]';

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { institution: { type: 'string' }, label: { type: 'string' }, id: { type: 'string' } },
});
const command = positionals[0];
if (!command || !['create', 'revoke', 'rotate', 'list'].includes(command)) fail(USAGE);

const endpoints = readEndpoints();
const schema = ingestSchemaFromEnv();
try {
  await migrateIngest({ databaseUrl: endpoints.databaseUrl, schema });
} catch (err) {
  fail(`No se pudo preparar la base de datos (${isBusError(err) ? err.code : 'error'}): revise DATABASE_URL.`);
}
const pool = createIngestPool(endpoints.databaseUrl, 2);
const store = createApiKeyStore(pool, schema, 0);
try {
  if (command === 'create') {
    const institution = values.institution;
    const known = loadCatalog().institutions.map((i) => i.code);
    if (!institution || !known.includes(institution)) fail(`Indique --institution con uno de: ${known.join(', ')}.`);
    const { keyId, key } = await store.create(institution, values.label);
    process.stdout.write(
      `Clave creada para ${institution} (id ${keyId}).\n${key}\n` +
        'Guárdela ahora: no se vuelve a mostrar y solo se almacena su hash.\n',
    );
  } else if (command === 'revoke') {
    if (!values.id) fail('Indique --id de la clave a revocar (véalo con `npm run apikeys -- list`).');
    const ok = await store.revoke(values.id);
    if (!ok) fail(`No hay ninguna clave activa con id ${values.id}.`);
    process.stdout.write(`Clave ${values.id} revocada; deja de aceptarse en pocos segundos (GATEWAY_API_KEY_CACHE_MS).\n`);
  } else if (command === 'rotate') {
    if (!values.id) fail('Indique --id de la clave a rotar.');
    const old = (await store.list()).find((k) => k.keyId === values.id && k.revokedAt === null);
    if (!old) fail(`No hay ninguna clave activa con id ${values.id}.`);
    const { keyId, key } = await store.create(old.institution, old.label ?? undefined);
    await store.revoke(old.keyId);
    process.stdout.write(`Clave nueva para ${old.institution} (id ${keyId}); la clave ${old.keyId} quedó revocada.\n${key}\n`);
  } else {
    const list = await store.list(values.institution);
    if (list.length === 0) process.stdout.write('No hay claves.\n');
    for (const k of list) {
      const state = k.revokedAt ? `revocada ${k.revokedAt.toISOString()}` : 'activa';
      process.stdout.write(`${k.keyId}\t${k.institution}\t${state}\tcreada ${k.createdAt.toISOString()}\t${k.label ?? ''}\n`);
    }
  }
} finally {
  await pool.end();
}
