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
  /**
   * The count limits each event of this type adds one to (names of a plan's `limits`): a plan that bounds one
   * of them refuses the event past it. Absent on definitions written before it existed: read it through
   * countsTowardOf (their `limitKey`, if any).
   */
  countsToward?: string[];
  /** The old spelling of a single-name countsToward: the first name of countsToward, or null. */
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

/** The count limits an event definition counts toward, whichever spelling stored it. */
export function countsTowardOf(config: Pick<EventDefinitionConfig, 'countsToward' | 'limitKey'>): string[] {
  return config.countsToward ?? (config.limitKey ? [config.limitKey] : []);
}

/**
 * How the debit receives an event's limits (`limit_key` of its item, and of a hold): the names joined by
 * commas, or null for none. A limit name is an identifier (LIMIT_NAME), so a comma never occurs in one.
 */
export function limitKeyOf(config: Pick<EventDefinitionConfig, 'countsToward' | 'limitKey'>): string | null {
  const names = countsTowardOf(config);
  return names.length === 0 ? null : names.join(',');
}
