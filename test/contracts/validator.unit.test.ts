/* eslint-disable @typescript-eslint/no-explicit-any -- the tests walk raw schema JSON and poke invalid shapes into events */
import { describe, expect, it } from 'vitest';
import { isBusError, ValidationError, type Violation } from '../../core/errors.ts';
import {
  assertValidEvent,
  createContracts,
  EVENT_TYPES,
  sampleEvent,
  validateEvent,
  type EventDataMap,
  type EventType,
  type ValidateOptions,
} from '../../contracts/index.ts';

/** `path rule` of every violation, the shape the assertions below compare. */
function violationsOf<T extends EventType>(type: T, data: unknown, options?: ValidateOptions): string[] {
  return validateEvent(type, data, options).map((v) => `${v.path} ${v.rule}`);
}

/** A sample with a change deep inside (the samples' nested objects are frozen). */
function withChange<T extends EventType>(type: T, change: (e: Record<string, any>) => void): EventDataMap[T] {
  const e = structuredClone(sampleEvent(type)) as Record<string, any>;
  change(e);
  return e as EventDataMap[T];
}

describe('valid events', () => {
  it.each(EVENT_TYPES)('a sample %s has no violation', (type) => {
    expect(validateEvent(type, sampleEvent(type))).toEqual([]);
  });

  it('accepts Sipacate (05/14) and Petatán (13/33)', () => {
    const sipacate = withChange(
      'conred.incident.reported',
      (e) => (e.location = { departmentCode: '05', municipalityCode: '14' }),
    );
    const petatan = withChange(
      'conred.incident.reported',
      (e) => (e.location = { departmentCode: '13', municipalityCode: '33' }),
    );
    expect(violationsOf('conred.incident.reported', sipacate)).toEqual([]);
    expect(violationsOf('conred.incident.reported', petatan)).toEqual([]);
  });

  it('accepts the DOMAIN.md CUIs and NITs', () => {
    for (const cui of ['1587564440904', '1580352240101']) {
      expect(
        violationsOf(
          'mingob.arrest-warrant.issued',
          withChange('mingob.arrest-warrant.issued', (e) => (e.person.cui = cui)),
        ),
      ).toEqual([]);
    }
    for (const nit of ['576937-K', '7108-0']) {
      expect(
        violationsOf(
          'mingob.arrest-warrant.issued',
          withChange('mingob.arrest-warrant.issued', (e) => (e.person.nit = nit)),
        ),
      ).toEqual([]);
    }
  });

  it('accepts timestamps with any offset, with Z, or as Date', () => {
    for (const occurredAt of [
      '2025-01-01T10:00:00-06:00',
      '2025-01-01T10:00Z',
      '2025-01-01T10:00:00.123456+05:30',
      new Date('2025-01-01T00:00:00Z'),
    ]) {
      expect(
        violationsOf('pgn.alba-keneth.deactivated', { ...sampleEvent('pgn.alba-keneth.deactivated'), occurredAt }),
      ).toEqual([]);
    }
  });
});

describe('structural violations', () => {
  it('reports a missing required field', () => {
    const e = withChange('conred.incident.reported', (e) => delete e.incidentId);
    expect(violationsOf('conred.incident.reported', e)).toEqual(['/incidentId required']);
  });

  it('reports a wrong type, a null where none is allowed, and a non-object', () => {
    const e = withChange('pgn.alba-keneth.activated', (e) => {
      e.ageYears = '9';
      e.disappearancePlace = null;
      e.child.sex = 7;
    });
    expect(violationsOf('pgn.alba-keneth.activated', e)).toEqual([
      '/child/sex enum',
      '/ageYears type',
      '/disappearancePlace type',
    ]);
    expect(violationsOf('pgn.alba-keneth.activated', 'nope')).toEqual([' type']);
    expect(
      violationsOf('pgn.alba-keneth.activated', { ...sampleEvent('pgn.alba-keneth.activated'), child: [] }),
    ).toEqual(['/child type']);
  });

  it('reports unknown fields at any depth', () => {
    const e = withChange('mingob.arrest-warrant.issued', (e) => {
      e.extra = 1;
      e.person.nickname = 'x';
    });
    expect(violationsOf('mingob.arrest-warrant.issued', e)).toEqual([
      '/person/nickname unknown-field',
      '/extra unknown-field',
    ]);
  });

  it('reports enum values outside the closed set', () => {
    const e = withChange('mingob.arrest-warrant.closed', (e) => (e.closureReason = 'CANCELLED'));
    expect(validateEvent('mingob.arrest-warrant.closed', e)).toEqual([
      { path: '/closureReason', message: 'must be one of SERVED, REVOKED, EXPIRED', rule: 'enum' },
    ]);
    expect(
      violationsOf(
        'igm.migratory-movement.recorded',
        withChange('igm.migratory-movement.recorded', (e) => (e.direction = 'IN')),
      ),
    ).toEqual(['/direction enum']);
  });

  it('reports malformed uuids and entity ids', () => {
    const e = withChange('conred.incident.closed', (e) => {
      e.eventId = 'not-a-uuid';
      e.incidentId = 'a b';
    });
    expect(violationsOf('conred.incident.closed', e)).toEqual(['/eventId uuid.format', '/incidentId id.format']);
  });

  it('reports numbers out of range', () => {
    const e = withChange('conred.incident.updated', (e) => {
      e.people.dead = -1;
      e.houses.atRisk = 1.5;
    });
    expect(violationsOf('conred.incident.updated', e)).toEqual(['/people/dead number.range', '/houses/atRisk type']);
    expect(
      violationsOf('pgn.alba-keneth.activated', { ...sampleEvent('pgn.alba-keneth.activated'), ageYears: 18 }),
    ).toEqual(['/ageYears number.range']);
  });

  it('requires optional sub-fields where the schema says so (traveller document and nationality)', () => {
    const e = withChange('igm.migratory-movement.recorded', (e) => {
      delete e.traveller.nationality;
      e.traveller.birthDate = null;
    });
    expect(violationsOf('igm.migratory-movement.recorded', e)).toEqual([
      '/traveller/nationality required',
      '/traveller/birthDate required',
    ]);
  });
});

describe('identifier rules', () => {
  it('CUI: check digit, remainder 10, municipality and format, at the field path', () => {
    const cases: [string, string][] = [
      ['1680352240101', 'cui.checksum'],
      ['5000000040101', 'cui.checksum'], // remainder 10: no digit can match
      ['2415751810000', 'cui.department'],
      ['2415751810100', 'cui.municipality'],
      ['1000000020515', 'cui.municipality'],
      ['158756444090', 'cui.format'],
    ];
    for (const [cui, rule] of cases) {
      const e = withChange('mingob.arrest-warrant.issued', (e) => (e.person.cui = cui));
      expect(violationsOf('mingob.arrest-warrant.issued', e), cui).toEqual([`/person/cui ${rule}`]);
    }
    const e = withChange('mingob.arrest-warrant.issued', (e) => (e.person.cui = '1680352240101'));
    expect(validateEvent('mingob.arrest-warrant.issued', e)[0]?.message).toBe('check digit does not match');
  });

  it('CUI rules apply to a DPI document number, and document type and number go together', () => {
    const bad = withChange('igm.migratory-movement.recorded', (e) => (e.traveller.documentNumber = '1680352240101'));
    expect(violationsOf('igm.migratory-movement.recorded', bad)).toEqual(['/traveller/documentNumber cui.checksum']);
    const passport = withChange('igm.migratory-movement.recorded', (e) => {
      e.traveller.documentType = 'PASAPORTE';
      e.traveller.documentNumber = '123456789';
    });
    expect(violationsOf('igm.migratory-movement.recorded', passport)).toEqual([]);
    const half = withChange('mingob.arrest-warrant.issued', (e) => (e.person.documentType = 'PASAPORTE'));
    expect(violationsOf('mingob.arrest-warrant.issued', half)).toEqual(['/person/documentNumber document.pair']);
    const unknownType = withChange('igm.migratory-movement.recorded', (e) => (e.traveller.documentType = 'CARNET'));
    expect(violationsOf('igm.migratory-movement.recorded', unknownType)).toEqual([
      '/traveller/documentType catalog.documentType',
    ]);
  });

  it('NIT: check character and format', () => {
    const checksum = withChange('mingob.arrest-warrant.issued', (e) => (e.person.nit = '8977112-0'));
    expect(violationsOf('mingob.arrest-warrant.issued', checksum)).toEqual(['/person/nit nit.checksum']);
    const format = withChange('mingob.arrest-warrant.issued', (e) => (e.person.nit = '89A7-0'));
    expect(violationsOf('mingob.arrest-warrant.issued', format)).toEqual(['/person/nit nit.format']);
  });

  it('plates: normalised before the pattern check, and assertValidEvent returns the normalised data', () => {
    const e = { ...sampleEvent('mingob.vehicle.recovered'), plate: 'p-123 abc' };
    expect(violationsOf('mingob.vehicle.recovered', e)).toEqual([]);
    const clean = assertValidEvent('mingob.vehicle.recovered', e);
    expect(clean.plate).toBe('P123ABC');
    expect(e.plate).toBe('p-123 abc');
    const same = sampleEvent('mingob.vehicle.recovered');
    expect(assertValidEvent('mingob.vehicle.recovered', same)).toBe(same);
  });

  it('plates: nested plates are normalised too, and must equal the event plate', () => {
    const e = withChange('mingob.vehicle.reported-stolen', (e) => {
      e.plate = 'P123ABC';
      e.vehicle.plate = 'p 123-abc';
    });
    expect(assertValidEvent('mingob.vehicle.reported-stolen', e).vehicle.plate).toBe('P123ABC');
    const mismatch = withChange('mingob.vehicle.reported-stolen', (e) => {
      e.plate = 'P123ABC';
      e.vehicle.plate = 'P999ZZZ';
    });
    expect(violationsOf('mingob.vehicle.reported-stolen', mismatch)).toEqual(['/vehicle/plate plate.mismatch']);
    const crossing = withChange('igm.migratory-movement.recorded', (e) => (e.vehicle.plate = 'm-001 xyz'));
    expect(assertValidEvent('igm.migratory-movement.recorded', crossing).vehicle?.plate).toBe('M001XYZ');
  });

  it('plates: a plate matching no pattern is reported, and the pattern list is configurable', () => {
    const e = { ...sampleEvent('mingob.vehicle.recovered'), plate: 'X-123' };
    expect(violationsOf('mingob.vehicle.recovered', e)).toEqual(['/plate plate.pattern']);
    const custom = createContracts({ platePatterns: ['^X[0-9]{3}$'] });
    expect(custom.validate('mingob.vehicle.recovered', e)).toEqual([]);
    expect(
      custom.validate('mingob.vehicle.recovered', sampleEvent('mingob.vehicle.recovered')).map((v) => v.rule),
    ).toEqual(['plate.pattern']);
  });
});

describe('place rules', () => {
  it('department and municipality codes exist', () => {
    const dept = withChange('conred.incident.reported', (e) => (e.location.departmentCode = '23'));
    expect(violationsOf('conred.incident.reported', dept)).toEqual(['/location/departmentCode department.unknown']);
    const muni = withChange(
      'conred.incident.reported',
      (e) => (e.location = { departmentCode: '18', municipalityCode: '06' }),
    );
    expect(violationsOf('conred.incident.reported', muni)).toEqual(['/location/municipalityCode municipality.unknown']);
    const nested = withChange(
      'pgn.alba-keneth.deactivated',
      (e) => (e.locatedAt = { departmentCode: '05', municipalityCode: '15' }),
    );
    expect(violationsOf('pgn.alba-keneth.deactivated', nested)).toEqual([
      '/locatedAt/municipalityCode municipality.unknown',
    ]);
  });

  it('coordinates lie inside the bounding box and come in pairs', () => {
    const outside = withChange(
      'conred.incident.reported',
      (e) => (e.location = { departmentCode: '01', municipalityCode: '01', latitude: 19.43, longitude: -99.13 }),
    );
    expect(violationsOf('conred.incident.reported', outside)).toEqual([
      '/location/latitude coordinates.bbox',
      '/location/longitude coordinates.bbox',
    ]);
    const half = withChange(
      'conred.incident.reported',
      (e) => (e.location = { departmentCode: '01', municipalityCode: '01', latitude: 14.6 }),
    );
    expect(violationsOf('conred.incident.reported', half)).toEqual(['/location/longitude coordinates.pair']);
  });
});

describe('time rules', () => {
  it('rejects a naked local timestamp with a message that says what to add', () => {
    const e = { ...sampleEvent('conred.incident.closed'), occurredAt: '2026-01-01T10:00:00' };
    const [v] = validateEvent('conred.incident.closed', e);
    expect(v).toMatchObject({ path: '/occurredAt', rule: 'timestamp.offset' });
    expect(v?.message).toMatch(/Z or an offset such as -06:00/);
  });

  it('rejects malformed timestamps and impossible dates', () => {
    for (const occurredAt of [
      '2026-02-30T10:00:00Z',
      '2026-01-01 10:00:00Z',
      '2026-01-01T24:00:00Z',
      '2026-01-01T10:00:00+0600',
      'yesterday',
    ]) {
      expect(
        violationsOf('conred.incident.closed', { ...sampleEvent('conred.incident.closed'), occurredAt }),
        occurredAt,
      ).toEqual(['/occurredAt timestamp.format']);
    }
    expect(
      violationsOf('conred.incident.closed', { ...sampleEvent('conred.incident.closed'), occurredAt: 1700000000000 }),
    ).toEqual(['/occurredAt type']);
  });

  it('rejects timestamps in the future beyond the configurable skew', () => {
    const nowMs = Date.parse('2026-06-01T12:00:00Z');
    const at = (occurredAt: string, options: ValidateOptions = { nowMs }) =>
      violationsOf('conred.incident.closed', { ...sampleEvent('conred.incident.closed'), occurredAt }, options);
    expect(at('2026-06-01T06:04:00-06:00')).toEqual([]); // 4 min ahead, default skew 5 min
    expect(at('2026-06-01T12:06:00Z')).toEqual(['/occurredAt timestamp.future']);
    expect(at('2026-06-01T12:06:00Z', { nowMs, maxFutureSkewMs: 10 * 60_000 })).toEqual([]);
    expect(at('2026-06-01T12:01:00Z', { nowMs, maxFutureSkewMs: 0 })).toEqual(['/occurredAt timestamp.future']);
    const nested = withChange('conred.incident.reported', (e) => (e.startedAt = '2099-01-01T00:00:00Z'));
    expect(violationsOf('conred.incident.reported', nested)).toEqual(['/startedAt timestamp.future']);
  });

  it('checks dates (birthDate): calendar and not in the future', () => {
    const bad = withChange('mingob.arrest-warrant.issued', (e) => (e.person.birthDate = '1990-02-29'));
    expect(violationsOf('mingob.arrest-warrant.issued', bad)).toEqual(['/person/birthDate date.format']);
    const future = withChange('mingob.arrest-warrant.issued', (e) => (e.person.birthDate = '2999-01-01'));
    expect(violationsOf('mingob.arrest-warrant.issued', future)).toEqual(['/person/birthDate date.future']);
  });
});

describe('catalog rules', () => {
  it.each([
    ['igm.migratory-movement.recorded', 'borderPostCode', 'catalog.borderPost'],
    ['igm.migratory-movement.recorded', 'reason', 'catalog.travelReason'],
    ['conred.incident.reported', 'incidentType', 'catalog.incidentType'],
    ['pgn.alba-keneth.deactivated', 'reasonCode', 'catalog.deactivationReason'],
    ['mingob.arrest-warrant.issued', 'crimeTypeCode', 'catalog.crimeType'],
  ] as const)('%s /%s must come from its catalog', (type, field, rule) => {
    expect(violationsOf(type, { ...sampleEvent(type), [field]: 'NOT-IN-CATALOG' })).toEqual([`/${field} ${rule}`]);
  });

  it('nationality is an ISO 3166 alpha-3 code', () => {
    const e = withChange('igm.migratory-movement.recorded', (e) => (e.traveller.nationality = 'GT'));
    expect(violationsOf('igm.migratory-movement.recorded', e)).toEqual(['/traveller/nationality catalog.country']);
  });
});

describe('text rules', () => {
  it('required texts are non-empty and length-bounded, and well-formed Unicode', () => {
    const e = withChange('pgn.alba-keneth.activated', (e) => {
      e.child.fullName = '  ';
      e.physicalDescription = 'x'.repeat(2001);
      e.reporterRelationship = 'madre \ud800';
    });
    expect(violationsOf('pgn.alba-keneth.activated', e)).toEqual([
      '/child/fullName text.empty',
      '/physicalDescription text.too-long',
      '/reporterRelationship text.encoding',
    ]);
  });

  it('rejects NUL characters, which PostgreSQL text cannot store', () => {
    const e = withChange('pgn.alba-keneth.activated', (e) => (e.physicalDescription = 'antes\u0000después'));
    expect(violationsOf('pgn.alba-keneth.activated', e)).toEqual(['/physicalDescription text.nul']);
  });

  it('optional texts, when given, are not empty either; urls and phones have a shape', () => {
    const e = withChange('pgn.alba-keneth.activated', (e) => {
      e.homeAddress = { ...e.homeAddress, village: '' };
      e.photoUrl = 'http://example.org/a.jpg';
      e.reporterPhone = 'call me';
    });
    expect(violationsOf('pgn.alba-keneth.activated', e)).toEqual([
      '/homeAddress/village text.empty',
      '/photoUrl url.format',
      '/reporterPhone phone.format',
    ]);
  });
});

describe('the error', () => {
  it('lists every violation with its path, and is a non-retriable BUS_ERR_VALIDATION', () => {
    const e = withChange('mingob.arrest-warrant.issued', (e) => {
      e.person.cui = '1680352240101';
      e.person.nit = '8977112-0';
      e.crimeTypeCode = 'X';
      e.occurredAt = '2026-01-01T10:00:00';
      delete e.court;
    });
    let error: unknown;
    try {
      assertValidEvent('mingob.arrest-warrant.issued', e);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect(isBusError(error, 'BUS_ERR_VALIDATION')).toBe(true);
    const ve = error as ValidationError;
    expect(ve.retriable).toBe(false);
    expect(ve.violations.map((v: Violation) => v.path)).toEqual([
      '/occurredAt',
      '/person/cui',
      '/person/nit',
      '/crimeTypeCode',
      '/court',
    ]);
    expect(ve.message).toContain('/person/cui: check digit does not match');
  });

  it('never echoes the offending personal value', () => {
    const values = {
      cui: '1680352240101',
      nit: '8977112-0',
      fullName: 'Zoë Ñañez'.repeat(30),
      birthDate: '1990-02-30',
      nationality: 'QQQ',
    };
    const e = withChange('mingob.arrest-warrant.issued', (e) => Object.assign(e.person, values));
    const violations = validateEvent('mingob.arrest-warrant.issued', e);
    expect(violations).toHaveLength(5);
    for (const v of violations)
      for (const value of Object.values(values)) expect(v.message).not.toContain(value.slice(0, 8));
  });

  it('an unknown event type is BUS_ERR_UNKNOWN_EVENT_TYPE', () => {
    let error: unknown;
    try {
      validateEvent('pgn.isabel-claudina.activated' as EventType, {});
    } catch (err) {
      error = err;
    }
    expect(isBusError(error, 'BUS_ERR_UNKNOWN_EVENT_TYPE')).toBe(true);
  });
});
