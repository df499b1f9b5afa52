import { randomBytes } from 'node:crypto';

/** A name no earlier run used: tests create their own topics, groups, subjects and databases. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}
