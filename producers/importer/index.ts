/** The file importer: `importFile`, mapping files, encoding and delimiter detection. */
export { importFile, detectEncoding, detectDelimiter, rowEventId, isImportConfigError } from './importer.ts';
export type { ImportOptions, ImportSummary, ImportProgress, FileEncoding } from './importer.ts';
export { loadMapping, parseMapping } from './mapping.ts';
export type { Mapping, FieldSpec, FieldType, DateFormat } from './mapping.ts';
