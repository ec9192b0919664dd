import { adminQuery } from './utils/test-database';

export default async function globalTeardown(): Promise<void> {
  const template = process.env.TEST_TEMPLATE_DATABASE;
  if (!process.env.DATABASE_URL || !template) return;
  await adminQuery(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
  // Every project that set up runs this: the template is dropped once, the others find nothing to drop.
  delete process.env.TEST_TEMPLATE_DATABASE;
  delete process.env.TEST_TEMPLATE_OWNER;
}
