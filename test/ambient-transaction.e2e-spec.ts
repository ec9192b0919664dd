import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { TransactionHost } from '../src/common/database/transaction-host';
import { CreditGrantsRepository } from '../src/modules/ledger/credit-grants.repository';
import { LedgerRepository } from '../src/modules/ledger/ledger.repository';
import { PeriodBalancesRepository } from '../src/modules/ledger/period-balances.repository';
import { startTestApp, TestApp } from './utils/test-app';
import { createOrg as newOrg } from './utils/factories';

/**
 * Repositories join the caller's transaction on their own (TransactionHost), against the real database: on
 * PGlite (one session) a repository that went through another connection would wait forever; on PostgreSQL
 * it would commit on its own.
 */
describe('ambient transaction', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  const createOrg = (): Promise<string> => newOrg(t, 'starter', { prefix: 'ambient' });
  const grant = (organizationId: string) => ({ organizationId, id: randomUUID(), amount: '12.50', expiresAt: null, reason: 'ambient', createdBy: 'test', now: new Date() });

  it('a grant written inside a transaction that throws is rolled back with it, and is seen inside it before that', async () => {
    const org = await createOrg();
    const tx = t.app.get(TransactionHost);
    const grants = t.app.get(CreditGrantsRepository);
    let seenInside = -1;
    await expect(
      tx.transaction(async () => {
        await grants.insert(grant(org));
        seenInside = await grants.openTotal(org, new Date());
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(seenInside).toBe(1_250);
    expect(await grants.openTotal(org, new Date())).toBe(0);
  });

  it('repositories of the ledger module and a nested transaction share one database transaction', async () => {
    const org = await createOrg();
    const tx = t.app.get(TransactionHost);
    const ledger = t.app.get(LedgerRepository);
    const balances = t.app.get(PeriodBalancesRepository);
    const ids = await ledger.transaction(async () => {
      const outer = ((await tx.manager.query(`SELECT txid_current()::text AS id`)) as Array<{ id: string }>)[0].id;
      await t.app.get(CreditGrantsRepository).insert(grant(org));
      const inner = await tx.transaction(async () => ((await tx.manager.query(`SELECT txid_current()::text AS id`)) as Array<{ id: string }>)[0].id);
      // Read through the balances repository: it sees the uncommitted grant, so it is in the same transaction.
      const remaining = await balances.creditsRemaining(org, '2000-01-01', new Date());
      return { outer, inner, remaining };
    });
    expect(ids.inner).toBe(ids.outer);
    expect(ids.remaining).toBe(1_250);
  });

  it('a quote is rolled back even inside a transaction, without taking the caller’s work with it', async () => {
    const org = await createOrg();
    const tx = t.app.get(TransactionHost);
    const grants = t.app.get(CreditGrantsRepository);
    const ledger = t.app.get(LedgerRepository);
    // newTransaction opens a second connection: on PGlite that would wait for the open one, so only on PostgreSQL.
    if (process.env.DATABASE_URL === undefined) return;
    await tx.transaction(async () => {
      await grants.insert(grant(org));
      await ledger.quote(async () => grants.insert(grant(org)));
    });
    expect(await grants.openTotal(org, new Date())).toBe(1_250);
  });
});
