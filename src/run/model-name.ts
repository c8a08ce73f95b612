import { basename, resolve } from 'node:path';

/**
 * A run's name where it is deployed (the KServe v2 endpoints, a Triton repository's model folder): the
 * run folder's name with everything but letters, digits, _, . and - replaced, as both allow.
 */
export function deployedModelName(runDir: string): string {
  return basename(resolve(runDir)).replace(/[^A-Za-z0-9_.-]/g, '_') || 'model';
}
