import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { argumentsOf, bodyOf, liveSqlFunctions, SQL_FUNCTIONS, syncSqlFunctions } from '../src/database/functions';
import { startTestApp } from './utils/test-app';
import type { TestApp } from './utils/test-app';
import { createTestDatabase } from './utils/test-database';
import type { TestDatabase } from './utils/test-database';

/**
 * One home per SQL function: the body the database runs is the one in src/database/functions, every
 * function of the schema has a file, and a body that drifted (changed by hand, or left older by a database
 * that missed a change) is put back by the next start.
 */
describe('SQL functions: the database runs the bodies of src/database/functions', () => {
  let database: TestDatabase;
  let t: TestApp;

  beforeAll(async () => {
    database = await createTestDatabase({ onDisk: true });
    t = await startTestApp({ database });
  });
  afterAll(async () => {
    await t?.close();
    await database?.drop();
  });

  it('every function of the schema has its file, and every file a function', async () => {
    expect([...(await liveSqlFunctions(t.dataSource.manager)).keys()].sort()).toEqual(Object.keys(SQL_FUNCTIONS).sort());
  });

  it.each(Object.keys(SQL_FUNCTIONS))("%s: the live body, arguments and result are the file's", async (name) => {
    const definition = SQL_FUNCTIONS[name];
    const fn = (await liveSqlFunctions(t.dataSource.manager)).get(name);
    expect(fn).toBeDefined();
    expect(fn!.args).toBe(argumentsOf(name, definition));
    expect(definition).toContain(`\n RETURNS ${fn!.result}\n`);
    expect(fn!.body).toBe(bodyOf(definition));
  });

  it('a start after the migrations changes nothing when the database runs the files', async () => {
    expect(await syncSqlFunctions(t.dataSource.manager)).toEqual([]);
  });

  it('a body changed by hand is seen, and the next start puts the file back', async () => {
    const name = 'period_accepts_events';
    const drifted = SQL_FUNCTIONS[name].replace('$function$\n', '$function$\n  -- changed by hand\n');
    await t.dataSource.query(drifted);
    const live = (await liveSqlFunctions(t.dataSource.manager)).get(name)!;
    expect(live.body).not.toBe(bodyOf(SQL_FUNCTIONS[name]));
    // A second instance starting on the same database (the start runs the migrations, then the sync).
    await t.close();
    t = await startTestApp({ database });
    expect((await liveSqlFunctions(t.dataSource.manager)).get(name)!.body).toBe(bodyOf(SQL_FUNCTIONS[name]));
  });
});
