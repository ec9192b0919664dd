import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

export const PLAN_LIMIT_KEYS = ['aiCallsPerMonth', 'pdfExportsPerMonth', 'sessionLimit', 'teamMembersLimit', 'storageLimit'] as const;
export type PlanLimitKey = (typeof PLAN_LIMIT_KEYS)[number];

/** The stored shape of a plan definition's content, without its key. */
export interface PlanDefinitionConfig {
  displayName: string;
  description: string;
  monthlyCredits: number;
  pricing: { monthly: number; annual: number };
  limits: Record<PlanLimitKey, number | null>;
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
