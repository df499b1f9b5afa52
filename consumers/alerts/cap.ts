/**
 * OASIS CAP 1.2 XML of an alert, and an Atom feed whose entries carry it.
 */
import type { AlertIssued } from '../../contracts/index.ts';

/** CAP 1.2 namespace. */
export const CAP_NAMESPACE = 'urn:oasis:names:tc:emergency:cap:1.2';

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** CAP `dateTime`: `2025-10-01T05:31:00-06:00` in Guatemala time (no "Z", as CAP 1.2 requires). */
export function capTime(iso: string): string {
  const d = new Date(Date.parse(iso) - 6 * 3_600_000);
  return `${d.toISOString().slice(0, 19)}-06:00`;
}

const el = (name: string, value: string | null | undefined, indent: string) => (value === null || value === undefined || value === '' ? '' : `${indent}<${name}>${esc(value)}</${name}>\n`);

/** The `<alert>` element (no XML declaration) of `a`. */
export function capAlertElement(a: AlertIssued, opts: { namespace?: boolean } = {}): string {
  const i = a.info;
  let x = `<alert${opts.namespace === false ? '' : ` xmlns="${CAP_NAMESPACE}"`}>\n`;
  x += el('identifier', a.identifier, '  ');
  x += el('sender', a.sender, '  ');
  x += el('sent', capTime(a.sent), '  ');
  x += el('status', a.status, '  ');
  x += el('msgType', a.msgType, '  ');
  x += el('source', a.sourceEvents.map((s) => `${s.source}:${s.type}:${s.eventId}`).join(' '), '  ');
  x += el('scope', a.scope, '  ');
  if (a.scope === 'Restricted') x += el('restriction', 'Uso exclusivo del Sistema Nacional de Seguridad; contiene datos personales.', '  ');
  x += el('note', `Regla: ${a.rule}`, '  ');
  if (a.references?.length) x += el('references', a.references.map((r) => r.replace(/,([^,]*)$/, (_, t: string) => `,${capTime(t)}`)).join(' '), '  ');
  x += '  <info>\n';
  x += el('language', i.language ?? 'es-GT', '    ');
  for (const c of i.category) x += el('category', c, '    ');
  x += el('event', i.event, '    ');
  x += el('urgency', i.urgency, '    ');
  x += el('severity', i.severity, '    ');
  x += el('certainty', i.certainty, '    ');
  x += el('audience', a.audience ?? null, '    ');
  if (i.expires) x += el('expires', capTime(i.expires), '    ');
  x += el('senderName', 'Secretaría Técnica del Consejo Nacional de Seguridad', '    ');
  x += el('headline', i.headline, '    ');
  x += el('description', i.description, '    ');
  x += el('instruction', i.instruction ?? null, '    ');
  for (const s of a.sourceEvents) {
    x += `    <parameter>\n      <valueName>sourceEvent</valueName>\n      <value>${esc(`${s.type} ${s.eventId} ${s.topic}/${s.partition}/${s.offset}`)}</value>\n    </parameter>\n`;
  }
  x += '    <area>\n';
  x += el('areaDesc', a.area.areaDesc, '      ');
  if (a.area.circle) x += el('circle', a.area.circle, '      ');
  if (a.area.departmentCode) x += `      <geocode>\n        <valueName>INE-departamento</valueName>\n        <value>${esc(a.area.departmentCode)}</value>\n      </geocode>\n`;
  if (a.area.departmentCode && a.area.municipalityCode) {
    x += `      <geocode>\n        <valueName>INE-municipio</valueName>\n        <value>${esc(a.area.departmentCode + a.area.municipalityCode)}</value>\n      </geocode>\n`;
  }
  x += '    </area>\n  </info>\n</alert>\n';
  return x;
}

/** A standalone CAP 1.2 document. */
export function capXml(a: AlertIssued): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${capAlertElement(a)}`;
}

/** An Atom feed of CAP alerts (newest first); each entry links to its `.cap` and embeds it. */
export function atomFeed(alerts: readonly AlertIssued[], baseUrl: string): string {
  const updated = alerts[0]?.sent ?? new Date(0).toISOString();
  let x = `<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" xmlns:cap="${CAP_NAMESPACE}">\n`;
  x += `  <id>${esc(`${baseUrl}/v1/alerts/feed.atom`)}</id>\n  <title>Alertas de la Secretaría Técnica del CNS</title>\n  <updated>${updated}</updated>\n`;
  x += `  <author><name>Secretaría Técnica del Consejo Nacional de Seguridad</name></author>\n`;
  x += `  <link rel="self" href="${esc(`${baseUrl}/v1/alerts/feed.atom`)}"/>\n`;
  for (const a of alerts) {
    const href = `${baseUrl}/v1/alerts/${encodeURIComponent(a.identifier)}.cap`;
    x += `  <entry>\n    <id>urn:sns-st:${esc(a.identifier)}</id>\n    <title>${esc(a.info.headline)}</title>\n    <updated>${a.sent}</updated>\n`;
    x += `    <link rel="alternate" type="application/cap+xml" href="${esc(href)}"/>\n`;
    x += `    <summary>${esc(`${a.msgType} · ${a.info.severity} · ${a.area.areaDesc}`)}</summary>\n`;
    x += `    <content type="application/cap+xml">\n${capAlertElement(a).replace(/^(?=.)/gm, '      ')}    </content>\n  </entry>\n`;
  }
  return `${x}</feed>\n`;
}
