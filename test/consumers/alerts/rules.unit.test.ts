import { describe, expect, it } from 'vitest';
import { isBusError } from '../../../core/index.ts';
import { loadAlertRules, parseAlertRules } from '../../../consumers/alerts/index.ts';

describe('alert-rules.yaml', () => {
  it('the repository file is valid and declares the issue’s rules', () => {
    const rules = loadAlertRules();
    expect(rules.rules.map((r) => r.name)).toEqual(
      expect.arrayContaining(['alba-keneth-activation', 'conred-incident-casualties', 'stolen-vehicle-report', 'arrest-warrant-listed-crime', 'movement-child-alba-keneth', 'movement-person-arrest-warrant', 'movement-stolen-vehicle']),
    );
  });

  it('lists every violation with its path and line', () => {
    const text = `sender: a@b
scope: Restricted
audience: ST
expiresAfterHours: 1
correlation: { nameFallback: true }
rules:
  - name: r1
    on: [nope.event.type]
    msgType: Alert
    entity: "x:{id}"
    category: [Geo]
    event: E
    severity: Terrible
    urgency: Immediate
    certainty: Observed
    area: {}
    headline: "{match.x}"
    description: d
    colour: red
`;
    try {
      parseAlertRules(text, 'test.yaml');
      expect.unreachable();
    } catch (err) {
      expect(isBusError(err, 'BUS_ERR_ALERT_RULES_FILE')).toBe(true);
      const v = (err as { violations: { path: string; line?: number }[] }).violations;
      expect(v).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ path: '/rules/0/severity', line: 13 }),
          expect.objectContaining({ path: '/rules/0/colour', line: 19 }),
          expect.objectContaining({ path: '/rules/0/on/0', line: 8 }),
          expect.objectContaining({ path: '/rules/0/headline', line: 17 }),
        ]),
      );
    }
  });
});
