import { Injectable } from '@nestjs/common';
import type { Statement } from '../../common/database/pipelined-transaction';
import { TransactionHost } from '../../common/database/transaction-host';
import type { OrganizationKey } from './ledger.types';

/** One string per (organization, key), for sets and maps. */
export function keyId(organizationId: string, key: string): string {
  return `${organizationId}\u0000${key}`;
}

function byOrganizationKey(a: OrganizationKey, b: OrganizationKey): number {
  if (a.organizationId !== b.organizationId) return a.organizationId < b.organizationId ? -1 : 1;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/** What a key keeps: the hash of the request that claimed it and, once its event is written, the answer a replay gets. */
export interface StoredKey {
  request_hash: string;
  response: Record<string, unknown> | null;
}

/**
 * idempotency_keys: a request's key claimed in the transaction that records its event, completed with the
 * event and the answer in that same transaction, or given back when the event was refused (a later attempt
 * may use it). Every method runs in the ambient transaction (TransactionHost): a claim holds its row lock
 * until the transaction ends, which is what makes a concurrent retry wait instead of running twice.
 * The holds' keys are claimed inside reserve_credits_many and completed by the settlement statement
 * (LedgerRepository), each with the debit it belongs to.
 */
@Injectable()
export class IdempotencyKeysRepository {
  constructor(private readonly tx: TransactionHost) {}

  /**
   * Claims many keys (of one or several organizations) in one statement; returns the ones claimed, as
   * `keyId`s. Claimed in (organization, key) order, so two transactions claiming overlapping keys wait for
   * each other instead of deadlocking.
   */
  async claimKeys(keys: Array<OrganizationKey & { hash: string }>, now: Date): Promise<Set<string>> {
    if (keys.length === 0) return new Set();
    const { text, values } = claimKeysStatement(keys, now);
    return claimedOf((await this.tx.manager.query(text, values)) as ClaimedRow[]);
  }

  /** The stored keys among these, by `keyId`. */
  async findKeys(keys: OrganizationKey[]): Promise<Map<string, StoredKey>> {
    if (keys.length === 0) return new Map();
    const rows = (await this.tx.manager.query(
      `SELECT k.organization_id, k.key, k.request_hash, k.response FROM idempotency_keys k
         JOIN unnest($1::text[], $2::text[]) AS x(org, key) ON k.organization_id = x.org AND k.key = x.key`,
      [keys.map((k) => k.organizationId), keys.map((k) => k.key)],
    )) as Array<{ organization_id: string; key: string; request_hash: string; response: Record<string, unknown> | null }>;
    return new Map(rows.map((r) => [keyId(r.organization_id, r.key), r]));
  }

  /** Gives back keys claimed in this transaction whose event was refused (a later attempt may use them). */
  async releaseKeys(keys: OrganizationKey[]): Promise<void> {
    if (keys.length === 0) return;
    const { text, values } = releaseKeysStatement(keys);
    await this.tx.manager.query(text, values);
  }

  /** Claims a key; false when it is already taken (this waits for a transaction holding it to finish). */
  async claimKey(organizationId: string, key: string, hash: string, now: Date): Promise<boolean> {
    const rows = (await this.tx.manager.query(
      `INSERT INTO idempotency_keys (organization_id, key, request_hash, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING key`,
      [organizationId, key, hash, now],
    )) as unknown[];
    return rows.length > 0;
  }

  async findKey(organizationId: string, key: string): Promise<StoredKey | undefined> {
    const rows = (await this.tx.manager.query(`SELECT request_hash, response FROM idempotency_keys WHERE organization_id = $1 AND key = $2`, [organizationId, key])) as Array<{ request_hash: string; response: Record<string, unknown> | null }>;
    return rows[0];
  }

  async releaseKey(organizationId: string, key: string): Promise<void> {
    await this.tx.manager.query(`DELETE FROM idempotency_keys WHERE organization_id = $1 AND key = $2 AND event_id IS NULL`, [organizationId, key]);
  }

  /** Records which event each key's request made, and the response a replay answers with. */
  async completeKeys(entries: CompletedKey[]): Promise<void> {
    if (entries.length === 0) return;
    const { text, values } = completeKeysStatement(entries);
    await this.tx.manager.query(text, values);
  }
}

/** A key to complete: the event its request made and the answer a replay gets. */
export type CompletedKey = OrganizationKey & { eventId: string; response: unknown };

/** A row of claimKeysStatement's answer: a key this transaction claimed. */
export type ClaimedRow = { organization_id: string; key: string };

/*
 * The statements of the methods above, for a caller that sends them itself (LedgerService's pipelined
 * debit, which does not wait for one to answer before sending the next). Named: each connection parses
 * them once.
 */

/**
 * Claims many keys (of one or several organizations) in one statement; its rows are the keys claimed.
 * Claimed in (organization, key) order, so two transactions claiming overlapping keys wait for each other
 * instead of deadlocking.
 */
export function claimKeysStatement(keys: Array<OrganizationKey & { hash: string }>, now: Date): Statement {
  const sorted = [...keys].sort(byOrganizationKey).map((k, n) => ({ org: k.organizationId, key: k.key, hash: k.hash, n }));
  return {
    name: 'keys_claim_many',
    text: `INSERT INTO idempotency_keys (organization_id, key, request_hash, created_at)
       SELECT k.org, k.key, k.hash, $2 FROM jsonb_to_recordset($1::jsonb) AS k(org text, key text, hash text, n integer) ORDER BY k.n
       ON CONFLICT DO NOTHING RETURNING organization_id, key`,
    values: [JSON.stringify(sorted), now],
  };
}

/** The keys a claimKeysStatement claimed, as `keyId`s. */
export function claimedOf(rows: ClaimedRow[]): Set<string> {
  return new Set(rows.map((r) => keyId(r.organization_id, r.key)));
}

/** Gives back keys claimed in this transaction whose event was refused (a later attempt may use them). */
export function releaseKeysStatement(keys: OrganizationKey[]): Statement {
  return {
    name: 'keys_release_many',
    text: `DELETE FROM idempotency_keys k USING unnest($1::text[], $2::text[]) AS x(org, key)
        WHERE k.organization_id = x.org AND k.key = x.key AND k.event_id IS NULL`,
    values: [keys.map((k) => k.organizationId), keys.map((k) => k.key)],
  };
}

/** Records which event each key's request made, and the response a replay answers with. */
export function completeKeysStatement(entries: CompletedKey[]): Statement {
  return {
    name: 'keys_complete_many',
    text: `UPDATE idempotency_keys k SET event_id = e.event_id, response = e.response
         FROM jsonb_to_recordset($1::jsonb) AS e(org text, key text, event_id uuid, response jsonb)
        WHERE k.organization_id = e.org AND k.key = e.key`,
    values: [JSON.stringify(entries.map((e) => ({ org: e.organizationId, key: e.key, event_id: e.eventId, response: e.response })))],
  };
}
