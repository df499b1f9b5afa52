import { describe, expect, it } from 'vitest';
import { ENTITY_ID_FIELDS, EVENT_TYPES, compileFieldPath, getField, sampleEvent } from '../../contracts/index.ts';

describe('sampleEvent', () => {
  it('gives every call a fresh event id, entity id and the current time', () => {
    for (const type of EVENT_TYPES) {
      const a = sampleEvent(type);
      const b = sampleEvent(type);
      expect(a.eventId).not.toBe(b.eventId);
      const key = ENTITY_ID_FIELDS[type];
      expect(getField(a, key)).not.toEqual(getField(b, key));
      expect(Math.abs(Date.parse(a.occurredAt) - Date.now())).toBeLessThan(5_000);
    }
  });

  it('applies overrides shallowly and keeps shared nested objects frozen', () => {
    const e = sampleEvent('pgn.alba-keneth.deactivated', { reasonCode: 'OTRO', notes: 'ok' });
    expect(e).toMatchObject({ reasonCode: 'OTRO', notes: 'ok' });
    expect(Object.isFrozen(sampleEvent('pgn.alba-keneth.activated').child)).toBe(true);
  });
});

describe('getField', () => {
  it('reads top-level and dotted paths, undefined when a step is missing', () => {
    const e = sampleEvent('mingob.vehicle.reported-stolen');
    expect(getField(e, 'plate')).toBe(e.plate);
    expect(getField(e, 'vehicle.plate')).toBe(e.plate);
    expect(getField(e, 'vehicle.nope.deeper')).toBeUndefined();
    expect(getField(null, 'plate')).toBeUndefined();
    expect(compileFieldPath('location.departmentCode')(e)).toBe('01');
  });
});
