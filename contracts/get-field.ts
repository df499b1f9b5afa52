/**
 * Reads a field by a dotted path (`alertId`, `vehicle.plate`), as topics.yaml
 * declares a topic's key field. Getters are compiled once per path.
 */

/** Reads one field of an event; undefined when a step is missing. */
export type FieldGetter = (data: unknown) => unknown;

const cache = new Map<string, FieldGetter>();

/** Compiles a getter for the dotted `path`; reuse it on the hot path. */
export function compileFieldPath(path: string): FieldGetter {
  const keys = path.split('.');
  if (keys.length === 1) {
    const key = keys[0]!;
    return (data) => (data === null || typeof data !== 'object' ? undefined : (data as Record<string, unknown>)[key]);
  }
  return (data) => {
    let v: unknown = data;
    for (let i = 0; i < keys.length; i++) {
      if (v === null || typeof v !== 'object') return undefined;
      v = (v as Record<string, unknown>)[keys[i]!];
    }
    return v;
  };
}

/** Reads the field at the dotted `path` of `data` (e.g. `getField(event, 'vehicle.plate')`). */
export function getField(data: unknown, path: string): unknown {
  let getter = cache.get(path);
  if (getter === undefined) {
    getter = compileFieldPath(path);
    cache.set(path, getter);
  }
  return getter(data);
}
