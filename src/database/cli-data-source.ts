import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { baseDataSourceOptions } from './data-source-options';

/**
 * For the TypeORM CLI (`npm run migration:generate|run|revert`), against the PostgreSQL server in
 * DATABASE_URL. The CLI cannot reach the embedded database (it lives inside the service's process).
 */
if (!process.env.DATABASE_URL) {
  throw new Error('The migration commands need DATABASE_URL (a PostgreSQL server); the embedded database migrates itself at start-up.');
}

export default new DataSource({ ...baseDataSourceOptions(), url: process.env.DATABASE_URL, migrations: ['dist/migrations/*.js'] });
