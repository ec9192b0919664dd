import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

export const PLAN_LIMIT_KEYS = ['aiCallsPerMonth', 'pdfExportsPerMonth', 'sessionLimit', 'teamMembersLimit', 'storageLimit'] as const;
export type PlanLimitKey = (typeof PLAN_LIMIT_KEYS)[number];
/** Limits that are not counts of events in a period (checked elsewhere): no event counts toward them. */
export const NON_COUNT_LIMIT_KEYS: readonly string[] = ['teamMembersLimit', 'storageLimit'];
/** A limit's name: an identifier (never a comma: the debit receives an event's names comma-joined). */
export const LIMIT_NAME = /^[a-z][A-Za-z0-9_]{0,63}$/;
/** Most limits one plan may have, the known ones included. */
export const MAX_PLAN_LIMITS = 32;
/** Most limits one event definition may count toward. */
export const MAX_COUNTS_TOWARD = 8;
/** The largest limit value: the debit reads it as a PostgreSQL integer. */
export const MAX_LIMIT_VALUE = 2_000_000_000;

/** The stored shape of a plan definition's content, without its key. */
export interface PlanDefinitionConfig {
  displayName: string;
  description: string;
  monthlyCredits: number;
  pricing: { monthly: number; annual: number };
  /** The known limits (always present, null = unlimited) and any count limit an operator adds, by name. */
  limits: Record<PlanLimitKey, number | null> & { [limitName: string]: number | null };
  features: string[];
  overageRate: number | null;
  warningThresholds: number[];
  sortOrder: number;
}

@Entity({ name: 'plan_definitions' })
export class PlanDefinitionEntity {
  @PrimaryColumn({ type: 'text' })
  name: string;

  @Column({ name: 'is_active', type: 'boolean' })
  isActive: boolean;

  @Column({ name: 'sort_order', type: 'integer' })
  sortOrder: number;

  /** numeric(12,2) as pg returns it: a decimal string. */
  @Column({ name: 'monthly_price', type: 'numeric' })
  monthlyPrice: string;

  @Column({ type: 'integer' })
  version: number;

  @Column({ type: 'jsonb' })
  config: PlanDefinitionConfig;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
