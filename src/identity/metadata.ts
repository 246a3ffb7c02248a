import { AppError } from '../shared/errors.js';

/** The largest metadata document (users', organizations'), as UTF-8 JSON. */
export const maxMetadataBytes = 16 * 1024;

/** 400 `metadata_too_large` when the document is larger than maxMetadataBytes as JSON. */
export function assertMetadataFits(metadata: Record<string, unknown>): void {
  if (Buffer.byteLength(JSON.stringify(metadata), 'utf8') > maxMetadataBytes) {
    throw new AppError('metadata_too_large', {
      detail: `The metadata must be at most ${maxMetadataBytes} bytes as JSON.`,
      errors: [{ path: '/body/metadata', message: `must be at most ${maxMetadataBytes} bytes as JSON` }],
    });
  }
}
