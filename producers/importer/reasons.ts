/**
 * Rule violations in Spanish, for the rejects file operators read. The rule
 * names are the validator's stable ones; an unknown rule falls back to the
 * English message so that no reason is ever dropped.
 */
import type { Violation } from '../../core/index.ts';

const PHRASES: Record<string, string> = {
  required: 'es obligatorio y falta',
  type: 'tiene un tipo de dato incorrecto',
  enum: 'no es uno de los valores permitidos',
  'text.empty': 'no puede estar vacío',
  'text.too-long': 'es demasiado largo',
  'text.encoding': 'contiene caracteres no válidos',
  'number.range': 'está fuera del rango permitido',
  'coordinates.bbox': 'está fuera del territorio de Guatemala',
  'coordinates.pair': 'latitud y longitud deben venir juntas',
  'uuid.format': 'no es un UUID válido',
  'id.format': 'no es un identificador válido (de 1 a 64 letras, dígitos y . _ : / -, empezando por letra o dígito)',
  'phone.format': 'no es un número de teléfono válido (dígitos, espacios, ( ) - y un + inicial opcional)',
  'text.nul': 'contiene el carácter NUL',
  'timestamp.format': 'no es una fecha y hora ISO-8601 (AAAA-MM-DDTHH:MM[:SS] con Z o ±HH:MM)',
  'timestamp.offset': 'no indica su diferencia con UTC (termine con Z o con -06:00)',
  'document.pair': 'el tipo y el número de documento deben venir juntos',
  'url.format': 'no es una dirección https válida',
  'timestamp.future': 'es una fecha y hora en el futuro',
  'date.future': 'es una fecha en el futuro',
  'date.format': 'no es una fecha válida (desde 1900)',
  'plate.pattern': 'la placa no tiene un formato reconocido',
  'plate.mismatch': 'la placa no coincide con la placa del evento',
  'cui.format': 'el CUI debe tener 13 dígitos',
  'cui.checksum': 'el dígito verificador del CUI no coincide',
  'cui.department': 'el CUI indica un departamento inexistente',
  'cui.municipality': 'el CUI indica un municipio inexistente',
  'nit.format': 'el NIT no tiene un formato válido',
  'nit.checksum': 'el dígito verificador del NIT no coincide',
  'department.unknown': 'no es un código de departamento',
  'municipality.unknown': 'no es un municipio de ese departamento',
  'unknown-field': 'es un campo que el contrato no tiene',
};

/** `location/departmentCode` → `location.departmentCode`. */
function fieldOf(pointer: string): string {
  return pointer.replace(/^\//, '').split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')).join('.') || '(evento)';
}

/** One Spanish reason per violation, naming the field and, when mapped, its column. */
export function spanishReason(v: Violation, columnOf: (field: string) => string | undefined): string {
  const field = fieldOf(v.path);
  const column = columnOf(field);
  const phrase = (v.rule && (PHRASES[v.rule] ?? (v.rule.startsWith('catalog.') ? `no es un código del catálogo ${v.rule.slice(8)}` : undefined))) ?? v.message;
  return `campo ${field}${column ? ` (columna ${column})` : ''}: ${phrase}`;
}
