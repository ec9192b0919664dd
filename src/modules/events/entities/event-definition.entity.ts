import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/** The stored shape of an event definition's content, without its key. */
export interface EventDefinitionConfig {
  displayName: string;
  description: string;
  category: string;
  baseCredits: number;
  endpoint: string | null;
  multipliers: {
    complexity: { min: number; max: number } | null;
    features: { [feature: string]: number };
  };
  limitKey: string | null;
  metadata: Record<string, unknown>;
  /**
   * Priced quantities: unit name -> credits per unit (e.g. inputTokens 0.002), at most 6 decimals.
   * Absent on definitions written before units existed: read it as `{}`.
   */
  units?: { [unit: string]: number };
  /** What a reservation holds when its eventData names no quantities: unit name -> whole units. */
  maxUnits?: { [unit: string]: number };
}

@Entity({ name: 'event_definitions' })
export class EventDefinitionEntity {
  @PrimaryColumn({ name: 'event_type', type: 'text' })
  eventType: string;

  @Column({ type: 'text' })
  category: string;

  @Column({ name: 'is_active', type: 'boolean' })
  isActive: boolean;

  @Column({ type: 'integer' })
  version: number;

  @Column({ type: 'jsonb' })
  config: EventDefinitionConfig;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
