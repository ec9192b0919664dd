import { resolve } from 'node:path';
import type { AppConfig } from '../../config/app-config';
import { DEV_ADMIN_API_KEY } from '../../config/app-config';

/** Nest's start-up chatter (one line per module and per route): written at debug, not at the default level. */
export const STARTUP_NOISE_CONTEXTS = new Set(['NestFactory', 'InstanceLoader', 'RoutesResolver', 'RouterExplorer']);

/** A PostgreSQL URL without its password (the banner is read by people, and kept in terminals). */
export function describeDatabase(config: Pick<AppConfig, 'databaseUrl' | 'dataDir'>): string {
  if (!config.databaseUrl) {
    const where = config.dataDir.startsWith('memory://') ? 'in memory (nothing kept)' : `in ${resolve(config.dataDir)}`;
    return `embedded PostgreSQL (PGlite) ${where}`;
  }
  try {
    const url = new URL(config.databaseUrl);
    const user = url.username ? `${decodeURIComponent(url.username)}@` : '';
    return `PostgreSQL ${user}${url.hostname || '(socket)'}${url.port ? `:${url.port}` : ''}${url.pathname}`;
  } catch {
    return 'PostgreSQL (DATABASE_URL)';
  }
}

/**
 * What a person needs once the service listens: where it is, the dashboard, the API docs, where the data
 * is, and whether the development admin key is in use (and so the service is on this machine only).
 * `origin` is PUBLIC_URL, or the address the server actually bound (PORT=0 picks one).
 */
export function startupBanner(config: Pick<AppConfig, 'host' | 'hostOverride' | 'adminApiKeyIsDefault' | 'databaseUrl' | 'dataDir'>, origin: string, boundTo: string): string[] {
  const lines = [
    `credit-metering is ready at ${origin} (listening on ${boundTo})`,
    `  Dashboard:  ${origin}/dashboard`,
    `  API docs:   ${origin}/api/docs`,
    `  Data:       ${describeDatabase(config)}`,
  ];
  if (config.adminApiKeyIsDefault) {
    lines.push(`  Admin key:  the development key "${DEV_ADMIN_API_KEY}" is in use, so the service listens on ${config.host} only`);
    if (config.hostOverride) lines.push(`              (HOST=${config.hostOverride} is ignored until ADMIN_API_KEY is set)`);
    lines.push('              Set ADMIN_API_KEY (12 characters or more) to serve other machines.');
  } else {
    lines.push('  Admin key:  from ADMIN_API_KEY');
  }
  return lines;
}
