/**
 * JSON Schema of topics.yaml. Structure only; the cross-references (owners,
 * duplicates, event types on disk, item → topic) are checked in `load.ts`.
 */

const KEBAB = '^[a-z0-9]+(-[a-z0-9]+)*$';
/** `<institution>.<entity>.<action>`, each part kebab-case. */
export const EVENT_TYPE_PATTERN = '^[a-z0-9]+(-[a-z0-9]+)*\\.[a-z0-9]+(-[a-z0-9]+)*\\.[a-z0-9]+(-[a-z0-9]+)*$';
/** Legal Kafka topic names (at most 249 characters). */
const TOPIC_NAME = '^[a-zA-Z0-9._-]{1,249}$';

function inventoryValue(kinds: readonly string[]): object {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['inventory', 'kind'],
    properties: {
      inventory: { type: 'string', minLength: 1 },
      kind: { enum: kinds },
    },
  };
}

export const topicsFileSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['institutions', 'topics', 'items'],
  properties: {
    institutions: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['code', 'name'],
        properties: {
          code: { type: 'string', pattern: '^[A-Z][A-Z0-9-]*$' },
          name: { type: 'string', minLength: 1 },
        },
      },
    },
    topics: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'owner', 'description', 'eventTypes', 'keyField', 'partitions', 'replicationFactor'],
        properties: {
          name: { type: 'string', pattern: TOPIC_NAME },
          owner: { type: 'string', minLength: 1 },
          description: { type: 'string', minLength: 1 },
          eventTypes: { type: 'array', items: { type: 'string', pattern: EVENT_TYPE_PATTERN } },
          keyField: {
            anyOf: [{ type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)*$' }, { type: 'null' }],
          },
          partitions: { type: 'integer', minimum: 1 },
          replicationFactor: { type: 'integer', minimum: 1 },
          retentionMs: { type: 'integer', minimum: -1 },
          cleanupPolicy: { enum: ['delete', 'compact'] },
          configs: {
            type: 'object',
            propertyNames: { pattern: '^[a-z0-9]+(\\.[a-z0-9]+)*$' },
            additionalProperties: { type: ['string', 'number', 'boolean'] },
          },
        },
      },
    },
    items: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: [
          'id',
          'institution',
          'name',
          'description',
          'dataState',
          'dataQuality',
          'updateFrequency',
          'classification',
        ],
        properties: {
          id: { type: 'string', pattern: KEBAB },
          institution: { type: 'string', minLength: 1 },
          name: { type: 'string', minLength: 1 },
          description: { type: 'string', minLength: 1 },
          dataState: inventoryValue(['digital', 'paper', 'paper-processed', 'paper-form']),
          dataQuality: inventoryValue(['structured', 'semi-structured', 'flat-file']),
          updateFrequency: inventoryValue(['immediate', 'daily', 'weekly', 'monthly', 'yearly']),
          classification: { enum: ['public', 'restricted', 'confidential', 'personal'] },
          topic: { type: 'string', minLength: 1 },
        },
      },
    },
  },
} as const;
