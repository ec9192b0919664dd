import { CreateCatalogTables1764300000000 } from './1764300000000-CreateCatalogTables';

/** Every migration, in order. Listed as classes so the app, the CLI and ESM jest load them alike. */
export const MIGRATIONS = [CreateCatalogTables1764300000000];
